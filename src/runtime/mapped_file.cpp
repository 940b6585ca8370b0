#include "runtime/mapped_file.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

namespace tern {

void drop_mapped_pages(const uint8_t* base, uint64_t size, const uint8_t* p, uint64_t n) {
    if (!base || n == 0 || p < base || p + n > base + size) return;
    const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
    const uint64_t begin = uint64_t(p - base) / page * page;
    const uint64_t end = std::min<uint64_t>((uint64_t(p - base) + n + page - 1) / page * page, (size + page - 1) / page * page);
    madvise(const_cast<uint8_t*>(base) + begin, end - begin, MADV_DONTNEED);
}

}  // namespace tern
