#include "dispatch.h"

#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include "cpu_features.h"

namespace tern::kernels {

namespace {

struct Candidate {
    const KernelTable* (*table)();
    bool (*runs)(const CpuFeatures&);
    const char* requires_;
};

// Best first. Each line names what the table's code was compiled for; the
// predicate must demand at least that, or the table would fault (SIGILL).
const Candidate kCandidates[] = {
    {table_ref, [](const CpuFeatures&) { return true; }, "nothing (portable C++)"},
};

struct Choice {
    const KernelTable* table = nullptr;
    std::string reason;
};

Choice choose() {
    if (const char* forced = std::getenv("TERN_ISA"); forced && *forced) {
        return {&table_by_name(forced), std::string("forced by TERN_ISA=") + forced};
    }
    for (const auto& e : available_tables())
        if (e.runs_here)
            return {e.table, std::string("best table this CPU runs (") + e.table->name + " needs " + e.requires_ + ")"};
    return {table_ref(), "fallback"};
}

const Choice& choice() {
    static const Choice c = choose();
    return c;
}

}  // namespace

std::vector<TableEntry> available_tables() {
    std::vector<TableEntry> out;
    for (const auto& c : kCandidates) out.push_back({c.table(), c.runs(cpu_features()), c.requires_});
    return out;
}

const KernelTable& table_by_name(const std::string& name) {
    std::string known;
    for (const auto& e : available_tables()) {
        if (name == e.table->name) {
            if (!e.runs_here)
                throw std::runtime_error("kernel table '" + name + "' needs " + e.requires_ +
                                         ", which this CPU does not have; unset TERN_ISA or pick another table");
            return *e.table;
        }
        known += known.empty() ? "" : ", ";
        known += e.table->name;
    }
    throw std::runtime_error("unknown kernel table '" + name + "'; this binary has: " + known);
}

const KernelTable& active_table() { return *choice().table; }
std::string active_table_reason() { return choice().reason; }

}  // namespace tern::kernels
