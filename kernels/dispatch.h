// Picks the kernel table once per process: the best one this CPU runs, or the
// one named by TERN_ISA (an ISA the CPU lacks is an error, never a downgrade).
#pragma once

#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace tern::kernels {

struct TableEntry {
    const KernelTable* table;
    bool runs_here;          // the CPU (and OS) support it
    std::string requires_;   // what it needs, e.g. "avx512f+avx512bw+avx512vl+avx512vnni"
};

// Every table compiled into this binary, best first.
std::vector<TableEntry> available_tables();

// The table by name, or a tern::Error naming what is missing.
const KernelTable& table_by_name(const std::string& name);

// The active table: TERN_ISA if set (validated), else the first that runs here.
// Decided on first call. `why` says how it was chosen.
const KernelTable& active_table();
std::string active_table_reason();

}  // namespace tern::kernels
