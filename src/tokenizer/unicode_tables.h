// The Unicode data NFC needs (nfc.cpp), in the compact form
// tools/dev/make_unicode_tables.py writes into unicode_tables.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tern::unicode {

struct CombiningRun {
    uint32_t first, last;  // code points [first, last]
    uint8_t ccc;           // their canonical combining class, never 0
};

struct CodePointRun {
    uint32_t first;
    uint32_t count;  // code points first .. first + count - 1
};

extern const char* const kUnicodeVersion;  // of the tables, e.g. "14.0.0"

extern const CombiningRun kCombiningRuns[];
extern const size_t kCombiningRunCount;

// Two-character canonical decompositions: the code points of kPairRuns in order,
// each with parts kPairParts[2k], kPairParts[2k + 1].
extern const CodePointRun kPairRuns[];
extern const size_t kPairRunCount;
extern const uint32_t kPairParts[];

// Singletons: the code points of kSingletonRuns in order, each becoming kSingletonTargets[k].
extern const CodePointRun kSingletonRuns[];
extern const size_t kSingletonRunCount;
extern const uint32_t kSingletonTargets[];

// Code points of two-character decompositions that do not compose back.
extern const uint32_t kCompositionExclusions[];
extern const size_t kCompositionExclusionCount;

}  // namespace tern::unicode
