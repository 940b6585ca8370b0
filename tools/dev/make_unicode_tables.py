#!/usr/bin/env python3
"""Writes the Unicode data tern's NFC normaliser needs, from Python's own unicodedata.

    python3 tools/dev/make_unicode_tables.py      (from anywhere; paths are the repository's)

Outputs (both committed; run again and commit when moving to a newer Python/Unicode):
  src/tokenizer/unicode_tables.cpp   canonical combining classes, one-step canonical
                                     decompositions, and the two-character decompositions
                                     that never compose back (composition exclusions and
                                     non-starter decompositions). Hangul is algorithmic in
                                     nfc.cpp and has no rows here.
  tests/data/nfc-vectors.txt         a few hundred source -> NFC pairs, NormalizationTest.txt
                                     style, computed by unicodedata.normalize('NFC', ...).

Before writing, the script runs the same algorithm as nfc.cpp (decompose, reorder, compose,
Hangul by arithmetic) on the tables it derived, over every code point and the canonical
decomposition of every code point, and stops if it ever disagrees with unicodedata: the tables
are then complete for this Unicode version.
"""
import os
import random
import sys
import unicodedata as ud

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TABLES = os.path.join(ROOT, "src", "tokenizer", "unicode_tables.cpp")
# The declarations the generated file implements, as the library includes them.
TABLES_HEADER = "tokenizer/unicode_tables.h"
VECTORS = os.path.join(ROOT, "tests", "data", "nfc-vectors.txt")
MAX_CP = 0x110000

# Hangul syllables (Unicode chapter 3.12): S = SBase + (L*VCount + V)*TCount + T.
S_BASE, L_BASE, V_BASE, T_BASE = 0xAC00, 0x1100, 0x1161, 0x11A7
L_COUNT, V_COUNT, T_COUNT = 19, 21, 28
S_COUNT = L_COUNT * V_COUNT * T_COUNT


def derive():
    """(runs of combining classes, pair decompositions, singletons, exclusions) from unicodedata."""
    ccc = {}
    pairs, singles = [], []
    for cp in range(MAX_CP):
        c = chr(cp)
        k = ud.combining(c)
        if k:
            ccc[cp] = k
        d = ud.decomposition(c)
        if not d or d.startswith("<"):  # none, or a compatibility mapping (NFKC only)
            continue
        parts = [int(x, 16) for x in d.split()]
        if len(parts) == 1:
            singles.append((cp, parts[0]))
        elif len(parts) == 2:
            pairs.append((cp, parts[0], parts[1]))
        else:
            sys.exit(f"U+{cp:04X}: a canonical decomposition of {len(parts)} characters; nfc.cpp assumes at most 2")
    # A pair that does not come back under NFC is excluded from composition: the
    # CompositionExclusions.txt list and the non-starter decompositions (Full_Composition_Exclusion).
    exclusions = [cp for cp, _, _ in pairs if ud.normalize("NFC", chr(cp)) != chr(cp)]
    runs = []
    for cp in sorted(ccc):
        if runs and runs[-1][1] == cp - 1 and runs[-1][2] == ccc[cp]:
            runs[-1][1] = cp
        else:
            runs.append([cp, cp, ccc[cp]])
    return ccc, runs, pairs, singles, exclusions


class Nfc:
    """The algorithm of nfc.cpp, on the derived tables, to check them."""

    def __init__(self, ccc, pairs, singles, exclusions):
        self.ccc = ccc
        self.decomp = {cp: (a, b) for cp, a, b in pairs}
        self.decomp.update({cp: (a,) for cp, a in singles})
        excluded = set(exclusions)
        self.compose = {}
        for cp, a, b in pairs:
            if cp not in excluded:
                if (a, b) in self.compose:
                    sys.exit(f"U+{a:04X} U+{b:04X} composes to two characters")
                self.compose[(a, b)] = cp

    def _decompose(self, cp, out):
        if S_BASE <= cp < S_BASE + S_COUNT:
            s = cp - S_BASE
            out.append(L_BASE + s // (V_COUNT * T_COUNT))
            out.append(V_BASE + (s % (V_COUNT * T_COUNT)) // T_COUNT)
            if s % T_COUNT:
                out.append(T_BASE + s % T_COUNT)
        elif cp in self.decomp:
            for x in self.decomp[cp]:
                self._decompose(x, out)
        else:
            out.append(cp)

    def _pair(self, a, b):
        if L_BASE <= a < L_BASE + L_COUNT and V_BASE <= b < V_BASE + V_COUNT:
            return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT
        if S_BASE <= a < S_BASE + S_COUNT and (a - S_BASE) % T_COUNT == 0 and T_BASE < b < T_BASE + T_COUNT:
            return a + (b - T_BASE)
        return self.compose.get((a, b))

    def __call__(self, text):
        cps = []
        for c in text:
            self._decompose(ord(c), cps)
        # Canonical ordering: a stable sort of each run of non-starters by class.
        i = 0
        while i < len(cps):
            if self.ccc.get(cps[i], 0) == 0:
                i += 1
                continue
            j = i
            while j < len(cps) and self.ccc.get(cps[j], 0):
                j += 1
            cps[i:j] = sorted(cps[i:j], key=lambda x: self.ccc[x])
            i = j
        # Canonical composition.
        out, starter, last = [], None, -1
        for cp in cps:
            k = self.ccc.get(cp, 0)
            if starter is not None and (last < k or (last == 0 and len(out) == starter + 1)):
                c = self._pair(out[starter], cp)
                if c is not None:
                    out[starter] = c
                    continue
            if k == 0:
                starter = len(out)
            last = k
            out.append(cp)
        return "".join(map(chr, out))


def self_check(nfc):
    for cp in range(MAX_CP):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        for s in (c, ud.normalize("NFD", c), "a" + c, c + "\u0301", c + "\u11A8"):
            want = ud.normalize("NFC", s)
            if nfc(s) != want:
                sys.exit(f"self-check failed on {hexs(s)}: got {hexs(nfc(s))}, unicodedata says {hexs(want)}")


def hexs(s):
    return " ".join(f"{ord(c):04X}" for c in s)


def cpp_rows(items, per_line):
    lines = []
    for i in range(0, len(items), per_line):
        lines.append("    " + " ".join(items[i:i + per_line]))
    return "\n".join(lines)


def consecutive_runs(cps):
    """[first, count] for each run of consecutive code points in the sorted list."""
    runs = []
    for cp in cps:
        if runs and runs[-1][0] + runs[-1][1] == cp:
            runs[-1][1] += 1
        else:
            runs.append([cp, 1])
    return runs


def write_tables(runs, pairs, singles, exclusions):
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    pair_runs = consecutive_runs([c for c, _, _ in pairs])
    single_runs = consecutive_runs([c for c, _ in singles])
    src = f"""// Generated by tools/dev/make_unicode_tables.py from Python {py}'s unicodedata
// (Unicode {ud.unidata_version}). Do not edit: run the script again (it checks the tables
// against unicodedata.normalize on every code point before writing them).
#include "{TABLES_HEADER}"

namespace tern::unicode {{

const char* const kUnicodeVersion = "{ud.unidata_version}";

// Runs of code points [first, last] sharing one non-zero canonical combining class.
const CombiningRun kCombiningRuns[] = {{
{cpp_rows([f"{{0x{a:X},0x{b:X},{k}}}," for a, b, k in runs], 6)}
}};
const size_t kCombiningRunCount = {len(runs)};

// Characters with a one-step canonical decomposition into two characters, as runs
// of consecutive code points; kPairParts holds their two parts, in the same order.
const CodePointRun kPairRuns[] = {{
{cpp_rows([f"{{0x{a:X},{n}}}," for a, n in pair_runs], 8)}
}};
const size_t kPairRunCount = {len(pair_runs)};
const uint32_t kPairParts[] = {{
{cpp_rows([f"0x{a:X},0x{b:X}," for _, a, b in pairs], 8)}
}};

// Canonical singletons (characters NFC always replaces by another), as runs of
// consecutive code points; kSingletonTargets holds what each becomes, in order.
const CodePointRun kSingletonRuns[] = {{
{cpp_rows([f"{{0x{a:X},{n}}}," for a, n in single_runs], 8)}
}};
const size_t kSingletonRunCount = {len(single_runs)};
const uint32_t kSingletonTargets[] = {{
{cpp_rows([f"0x{a:X}," for _, a in singles], 12)}
}};

// Two-character decompositions that never compose back (Full_Composition_Exclusion:
// CompositionExclusions.txt and the non-starter decompositions), by code point.
const uint32_t kCompositionExclusions[] = {{
{cpp_rows([f"0x{c:X}," for c in exclusions], 10)}
}};
const size_t kCompositionExclusionCount = {len(exclusions)};

}}  // namespace tern::unicode
"""
    with open(TABLES, "w", encoding="utf-8") as f:
        f.write(src)
    print(f"{TABLES}: {len(src)} bytes (Unicode {ud.unidata_version}: {len(runs)} class runs, "
          f"{len(pairs)} pairs in {len(pair_runs)} runs, {len(singles)} singletons in {len(single_runs)} runs, "
          f"{len(exclusions)} exclusions)")


def vectors(ccc, pairs, singles, exclusions):
    """(source, comment) strings; the expected NFC comes from unicodedata."""
    rng = random.Random(16)
    out = [
        ("e\u0301", "decomposed Latin: e + acute"),
        ("A\u030A", "A + ring above"),
        ("\u212B", "ANGSTROM SIGN: a singleton"),
        ("\u2126", "OHM SIGN: a singleton"),
        ("\u212A", "KELVIN SIGN: a singleton"),
        ("\u212B\u0301", "a singleton, then the result composes further"),
        ("\u00C5\u0301", "a composite composes further"),
        ("\u0958", "DEVANAGARI LETTER QA: a composition exclusion"),
        ("\u0915\u093C", "its decomposition does not compose back"),
        ("\u2ADC", "FORKING: excluded"),
        ("\uFB1D", "HEBREW YOD WITH HIRIQ: excluded"),
        ("\U0001D15E", "MUSICAL SYMBOL HALF NOTE: excluded (astral)"),
        ("\u0344", "COMBINING GREEK DIALYTIKA TONOS: non-starter decomposition"),
        ("\u0F73", "TIBETAN VOWEL SIGN II: non-starter decomposition"),
        ("\u0340", "COMBINING GRAVE TONE MARK: a singleton to U+0300"),
        ("\u0374", "GREEK NUMERAL SIGN: a singleton"),
        ("\uF900", "CJK compatibility ideograph: a singleton"),
        ("\U0002F800", "CJK compatibility ideograph supplement"),
        ("\u1E9B\u0323", "long s with dot above, dot below (UAX #15)"),
        ("a\u0301\u0323", "marks out of canonical order"),
        ("a\u0323\u0301", "marks in canonical order"),
        ("a\u0306\u0323", "Vietnamese: breve then dot below, reordered"),
        ("a\u0323\u0306", "Vietnamese: dot below then breve"),
        ("e\u0302\u0301", "Vietnamese: e circumflex acute"),
        ("o\u031B\u0323", "Vietnamese: o horn dot below"),
        ("u\u031B\u0300", "Vietnamese: u horn grave"),
        ("Vie\u0323\u0302t Nam", "Vietnamese stacked diacritics in a word"),
        ("a\u0305\u0301", "a mark of the same class blocks composition"),
        ("a\u0301\u0301", "the second acute stays"),
        ("\u0301a", "a mark at the start of the text"),
        ("\u03B1\u0313\u0301\u0345", "Greek: alpha psili oxia ypogegrammeni"),
        ("\u03B1\u0345\u0313\u0301", "the same marks out of order"),
        ("\u1FEE", "GREEK DIALYTIKA AND OXIA"),
        ("\u0B47\u0B3E", "Oriya: two starters compose"),
        ("\u0B47\u0B3E\u0B3E", "only the first pair"),
        ("\u0DD9\u0DCF\u0DCA", "Sinhala: three starters compose stepwise"),
        ("\U00011099\U000110BA", "Kaithi: an astral composition"),
        ("\u304B\u3099", "Hiragana with a combining voiced mark"),
        ("\u30AB\u3099", "Katakana with a combining voiced mark"),
        ("\u1100\u1161", "Hangul L V"),
        ("\u1100\u1161\u11A8", "Hangul L V T"),
        ("\uAC00\u11A8", "Hangul LV syllable + T"),
        ("\uAC01\u11A8", "Hangul LVT syllable + T: no composition"),
        ("\uAC00\u11A7", "U+11A7 is not a trailing consonant"),
        ("\u1100\u1100\u1161", "Hangul L L V"),
        ("\u1161\u11A8", "Hangul V T without L"),
        ("\u1112\u1161\u11AB\u1100\u116E\u11A8\u110B\u1165", "Korean in conjoining jamo"),
        ("\u1100\u0301\u1161", "a mark between L and V blocks"),
        ("\uD55C\u0301", "a mark after a Hangul syllable"),
        ("Caf\u00E9 \u2014 already NFC", "unchanged text"),
        ("", "empty text"),
    ]
    excluded = set(exclusions)
    composing = [c for c, _, _ in pairs if c not in excluded]
    marks = sorted(ccc)
    common = [cp for cp in marks if cp < 0x370 or 0x591 <= cp < 0x5C8 or 0x93C <= cp < 0x955 or 0x1DC0 <= cp < 0x1E00]
    for c in rng.sample(composing, 90):
        out.append((ud.normalize("NFD", chr(c)), f"NFD of U+{c:04X}"))
    for c in rng.sample(composing, 20):
        out.append((chr(c), f"U+{c:04X} is NFC"))
    for c in exclusions:
        out.append((chr(c), f"U+{c:04X} is excluded"))
    for c, _ in rng.sample(singles, 25):
        out.append((chr(c), f"singleton U+{c:04X}"))
    bases = [0x41, 0x61, 0x45, 0x65, 0x4F, 0x6F, 0x55, 0x75, 0x3B1, 0x3C9, 0x438, 0x5D0, 0x928, 0xC5, 0x1EA0]
    for _ in range(80):
        s = chr(rng.choice(bases)) + "".join(chr(rng.choice(common if rng.random() < 0.8 else marks))
                                             for _ in range(rng.randint(1, 4)))
        out.append((s, "a base and marks in random order"))
    jamo = list(range(0x1100, 0x1113)) + list(range(0x1161, 0x1176)) + list(range(0x11A7, 0x11C3))
    for _ in range(40):
        out.append(("".join(chr(rng.choice(jamo)) for _ in range(rng.randint(2, 5))), "conjoining jamo"))
    for _ in range(20):
        s = rng.randrange(S_BASE, S_BASE + S_COUNT)
        out.append((chr(s) + chr(rng.randrange(0x11A7, 0x11C3)), "a syllable then a T jamo"))
    return out


def write_vectors(ccc, pairs, singles, exclusions):
    lines = [
        "# NFC test vectors: source ; NFC of it, as code points in hex; a # comment follows.",
        f"# Generated by tools/dev/make_unicode_tables.py with unicodedata.normalize (Unicode {ud.unidata_version}).",
    ]
    for src, comment in vectors(ccc, pairs, singles, exclusions):
        lines.append(f"{hexs(src)};{hexs(ud.normalize('NFC', src))} # {comment}")
    with open(VECTORS, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{VECTORS}: {len(lines) - 2} vectors")


def main():
    ccc, runs, pairs, singles, exclusions = derive()
    nfc = Nfc(ccc, pairs, singles, exclusions)
    self_check(nfc)
    write_tables(runs, pairs, singles, exclusions)
    write_vectors(ccc, pairs, singles, exclusions)


if __name__ == "__main__":
    main()
