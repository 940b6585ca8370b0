// A read-only file mapping (GGUF models, safetensors checkpoints): opened,
// checked to be a regular file and mapped in one step, unmapped when the
// owner goes. Errors name the file.
#pragma once

#include <cstdint>
#include <string>

namespace tern {

class MappedFile {
public:
    enum class Access { random, sequential };  // a hint to the kernel's read-ahead

    // Throws tern::Error "PATH: cannot open: ..." / "not a regular file" / "cannot mmap".
    // An empty file maps to data() == nullptr, size() == 0.
    static MappedFile open(const std::string& path, Access access = Access::random);

    MappedFile() = default;
    MappedFile(MappedFile&& o) noexcept { *this = std::move(o); }
    MappedFile& operator=(MappedFile&& o) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile();

    const uint8_t* data() const { return data_; }
    uint64_t size() const { return size_; }

    // Drops the whole pages of [p, p + n) from this process's memory (rounded
    // outward: a dropped page that is touched again is simply re-read from
    // the file). Used once a tensor has been converted or copied elsewhere.
    // No-op for a range outside the mapping or for n = 0.
    void drop(const uint8_t* p, uint64_t n) const;

private:
    uint8_t* data_ = nullptr;
    uint64_t size_ = 0;
};

}  // namespace tern
