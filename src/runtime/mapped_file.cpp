#include "runtime/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "tern/error.h"

namespace tern {

MappedFile MappedFile::open(const std::string& path, Access access) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        throw Error(path + ": cannot stat: " + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(path + ": not a regular file");
    }
    MappedFile f;
    f.size_ = uint64_t(st.st_size);
    if (f.size_ > 0) {
        void* m = mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            const int e = errno;
            ::close(fd);
            throw Error(path + ": cannot mmap: " + std::strerror(e));
        }
        f.data_ = static_cast<uint8_t*>(m);
        if (access == Access::sequential) madvise(m, f.size_, MADV_SEQUENTIAL);
    }
    ::close(fd);  // the mapping keeps the file
    return f;
}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
    if (this != &o) {
        if (data_) munmap(data_, size_);
        data_ = std::exchange(o.data_, nullptr);
        size_ = std::exchange(o.size_, 0);
    }
    return *this;
}

MappedFile::~MappedFile() {
    if (data_) munmap(data_, size_);
}

void MappedFile::drop(const uint8_t* p, uint64_t n) const {
    if (!data_ || n == 0 || p < data_ || p + n > data_ + size_) return;
    const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
    const uint64_t begin = uint64_t(p - data_) / page * page;
    const uint64_t end = std::min<uint64_t>((uint64_t(p - data_) + n + page - 1) / page * page, (size_ + page - 1) / page * page);
    madvise(data_ + begin, end - begin, MADV_DONTNEED);
}

}  // namespace tern
