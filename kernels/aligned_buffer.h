// A move-only, 64-byte aligned, zero-initialised byte buffer: the storage for
// repacked weights and activations, so SIMD loads never straddle a cache line
// for lack of alignment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace tern {

class AlignedBuffer {
public:
    static constexpr size_t kAlign = 64;

    // Large buffers read with big strides (the KV cache) ask for transparent
    // huge pages: in a VM every TLB miss is a two-level page walk, and a
    // stride of a few KB misses on every access with 4 KB pages.
    enum class Pages { normal, huge };
    static constexpr size_t kHugePage = size_t(2) << 20;

    AlignedBuffer() = default;
    explicit AlignedBuffer(size_t bytes, Pages pages = Pages::normal) : size_(bytes) {
        if (bytes == 0) return;
        const size_t align = pages == Pages::huge ? kHugePage : kAlign;
        size_t rounded = (bytes + align - 1) / align * align;
        data_ = static_cast<uint8_t*>(std::aligned_alloc(align, rounded));
        if (!data_) throw std::bad_alloc();
#if defined(__linux__)
        if (pages == Pages::huge) madvise(data_, rounded, MADV_HUGEPAGE);  // advice only: failure is harmless
#endif
        std::memset(data_, 0, rounded);
    }
    AlignedBuffer(const AlignedBuffer&) = delete;
    AlignedBuffer& operator=(const AlignedBuffer&) = delete;
    AlignedBuffer(AlignedBuffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
    AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
        if (this != &o) {
            std::free(data_);
            data_ = std::exchange(o.data_, nullptr);
            size_ = std::exchange(o.size_, 0);
        }
        return *this;
    }
    ~AlignedBuffer() { std::free(data_); }

    uint8_t* data() { return data_; }
    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    template <class T>
    T* as() {
        return reinterpret_cast<T*>(data_);
    }
    template <class T>
    const T* as() const {
        return reinterpret_cast<const T*>(data_);
    }

private:
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace tern
