// GGUF reader and writer: round trips, typed access, and malformed input.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>

#include <gtest/gtest.h>

#include "kernels/formats.h"
#include "tern/gguf.h"
#include "test_util.h"

namespace tern {
namespace {

using gguf::Value;
using gguf::ValueType;

std::vector<uint8_t> iota_bytes(size_t n, uint8_t start) {
    std::vector<uint8_t> b(n);
    for (size_t k = 0; k < n; ++k) b[k] = uint8_t(start + k * 7);
    return b;
}

// A small valid file exercising every metadata kind and a few tensor types.
gguf::Writer base_writer(uint32_t alignment = 32) {
    gguf::Writer w;
    if (alignment != 32) w.set_alignment(alignment);
    w.set("general.architecture", Value::str("test"));
    w.set("u8", Value::u8(200));
    w.set("i8", Value::i8(-100));
    w.set("u16", Value::u16(60000));
    w.set("i16", Value::i16(-30000));
    w.set("u32", Value::u32(4000000000u));
    w.set("i32", Value::i32(-2000000000));
    w.set("u64", Value::u64(18000000000000000000ull));
    w.set("i64", Value::i64(-9000000000000000000ll));
    w.set("f32", Value::f32(1.5f));
    w.set("f64", Value::f64(-2.25));
    w.set("bool", Value::boolean(true));
    w.set("str", Value::str("héllo"));
    w.set("empty", Value::str(""));
    w.set("strs", Value::strings({"a", "bc", ""}));
    w.set("ints", Value::i32s({1, -2, 3}));
    w.set("floats", Value::f32s({0.5f, -1.0f}));
    w.set("nested", Value::array(ValueType::ARRAY, {Value::i32s({1, 2}), Value::i32s({3})}));
    w.set("empty_array", Value::array(ValueType::UINT8, {}));
    w.add_tensor("a", {8}, uint32_t(GgmlType::F32), iota_bytes(32, 1));
    w.add_tensor("b", {32, 2}, uint32_t(GgmlType::F16), iota_bytes(128, 2));
    w.add_tensor("c", {64}, uint32_t(GgmlType::Q8_0), iota_bytes(68, 3));
    w.add_tensor("d", {128, 2}, uint32_t(GgmlType::I2_S), iota_bytes(64 + 32, 4));
    w.add_tensor("e", {256}, uint32_t(GgmlType::TQ2_0), iota_bytes(66, 5));
    return w;
}

std::vector<uint8_t> base_bytes(uint32_t alignment = 32) {
    const std::string p = test::temp_path("base.gguf");
    base_writer(alignment).write(p);
    auto b = test::read_file(p);
    std::filesystem::remove(p);
    return b;
}

gguf::File parse(const std::vector<uint8_t>& b) { return gguf::File::parse(b.data(), b.size(), "test.gguf"); }

TEST(Gguf, RoundTripEveryValueType) {
    for (uint32_t alignment : {1u, 8u, 32u, 64u, 4096u}) {
        SCOPED_TRACE(alignment);
        const auto bytes = base_bytes(alignment);
        const gguf::File f = parse(bytes);
        EXPECT_EQ(f.version(), 3u);
        EXPECT_EQ(f.alignment(), alignment);
        EXPECT_EQ(f.get<std::string>("general.architecture"), "test");
        EXPECT_EQ(f.get<uint8_t>("u8"), 200);
        EXPECT_EQ(f.get<int8_t>("i8"), -100);
        EXPECT_EQ(f.get<uint16_t>("u16"), 60000);
        EXPECT_EQ(f.get<int16_t>("i16"), -30000);
        EXPECT_EQ(f.get<uint32_t>("u32"), 4000000000u);
        EXPECT_EQ(f.get<int32_t>("i32"), -2000000000);
        EXPECT_EQ(f.get<uint64_t>("u64"), 18000000000000000000ull);
        EXPECT_EQ(f.get<int64_t>("i64"), -9000000000000000000ll);
        EXPECT_EQ(f.get<float>("f32"), 1.5f);
        EXPECT_EQ(f.get<double>("f64"), -2.25);
        EXPECT_EQ(f.get<bool>("bool"), true);
        EXPECT_EQ(f.get<std::string>("str"), "héllo");
        EXPECT_EQ(f.get<std::string>("empty"), "");
        EXPECT_EQ(f.get<std::vector<std::string>>("strs"), (std::vector<std::string>{"a", "bc", ""}));
        EXPECT_EQ(f.get<std::vector<int32_t>>("ints"), (std::vector<int32_t>{1, -2, 3}));
        EXPECT_EQ(f.get<std::vector<float>>("floats"), (std::vector<float>{0.5f, -1.0f}));
        const Value* nested = f.find("nested");
        ASSERT_NE(nested, nullptr);
        ASSERT_EQ(nested->elem_type, ValueType::ARRAY);
        ASSERT_EQ(nested->items.size(), 2u);
        EXPECT_EQ(nested->items[0].items[1].i, 2);
        EXPECT_EQ(nested->items[1].items[0].i, 3);
        EXPECT_TRUE(f.find("empty_array")->items.empty());
        // Metadata keeps file order.
        EXPECT_EQ(f.metadata()[alignment == 32 ? 0 : 1].first, "general.architecture");

        ASSERT_EQ(f.tensors().size(), 5u);
        const struct {
            const char* name;
            size_t n;
            uint8_t start;
        } expect[] = {{"a", 32, 1}, {"b", 128, 2}, {"c", 68, 3}, {"d", 96, 4}, {"e", 66, 5}};
        for (const auto& e : expect) {
            const auto& t = f.tensor(e.name);
            EXPECT_EQ(t.n_bytes, e.n) << e.name;
            EXPECT_EQ(t.offset % alignment, 0u);
            EXPECT_EQ(std::vector<uint8_t>(t.data, t.data + t.n_bytes), iota_bytes(e.n, e.start)) << e.name;
        }
        EXPECT_EQ(f.tensor("b").dims, (std::vector<int64_t>{32, 2}));
        EXPECT_EQ(f.tensor("d").n_elements, 256);
    }
}

TEST(Gguf, TypedAccessErrorsNameTheKey) {
    const auto bytes = base_bytes();
    const gguf::File f = parse(bytes);
    auto message = [&](const std::function<void()>& fn) {
        try {
            fn();
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message([&] { f.get<uint32_t>("bitnet-25.block_count"); }).find("'bitnet-25.block_count' is missing"),
              std::string::npos);
    EXPECT_NE(message([&] { f.get<uint32_t>("str"); }).find("key 'str' is string, expected u32"), std::string::npos);
    EXPECT_NE(message([&] { f.get<uint8_t>("u16"); }).find("does not fit"), std::string::npos);
    EXPECT_NE(message([&] { f.get<uint32_t>("i8"); }).find("negative"), std::string::npos);
    EXPECT_NE(message([&] { f.get<std::vector<std::string>>("ints"); }).find("'ints'"), std::string::npos);
    EXPECT_NE(message([&] { f.tensor("missing.weight"); }).find("'missing.weight' is missing"), std::string::npos);
    // Widening and narrowing conversions that fit are allowed.
    EXPECT_EQ(f.get<int64_t>("u32"), 4000000000ll);
    EXPECT_EQ(f.get<int32_t>("u8"), 200);
    EXPECT_EQ(f.get_optional<uint32_t>("nope"), std::nullopt);
}

TEST(Gguf, ReadsVersion2AndRejectsOthers) {
    auto bytes = base_bytes();
    bytes[4] = 2;
    EXPECT_EQ(parse(bytes).version(), 2u);
    for (uint8_t v : {0, 1, 4, 255}) {
        bytes[4] = v;
        EXPECT_THROW(parse(bytes), Error) << int(v);
    }
    auto bad_magic = base_bytes();
    bad_magic[0] = 'X';
    EXPECT_THROW(parse(bad_magic), Error);
}

TEST(Gguf, UnknownTensorTypesAreListedAndRefusedOnUse) {
    gguf::Writer w;
    w.add_tensor("known", {4}, uint32_t(GgmlType::F32), iota_bytes(16, 0));
    const std::string p = test::temp_path("unknown.gguf");
    w.write(p);
    auto bytes = test::read_file(p);
    std::filesystem::remove(p);
    // Patch the type id (u32 after name and dims) to an id tern does not know.
    const std::string name = "known";
    auto it = std::search(bytes.begin(), bytes.end(), name.begin(), name.end());
    ASSERT_NE(it, bytes.end());
    const size_t type_at = size_t(it - bytes.begin()) + name.size() + 4 + 8;
    const uint32_t unknown = 99;
    std::memcpy(&bytes[type_at], &unknown, 4);
    const gguf::File f = parse(bytes);
    ASSERT_EQ(f.tensors().size(), 1u);
    EXPECT_FALSE(f.tensors()[0].known_type);
    EXPECT_EQ(f.tensors()[0].data, nullptr);
    EXPECT_THROW(f.tensor("known"), Error);
}

// Offsets of every count/length/size field of a file made by base_writer, found
// by walking the structure (the test knows the layout it wrote).
struct Field {
    size_t offset;
    int width;  // 4 or 8
    std::string what;
};

std::vector<Field> locate_fields(const std::vector<uint8_t>& b) {
    std::vector<Field> out;
    size_t p = 8;
    auto u64 = [&](size_t at) {
        uint64_t v;
        std::memcpy(&v, &b[at], 8);
        return v;
    };
    auto u32 = [&](size_t at) {
        uint32_t v;
        std::memcpy(&v, &b[at], 4);
        return v;
    };
    out.push_back({p, 8, "tensor count"});
    const uint64_t n_t = u64(p);
    p += 8;
    out.push_back({p, 8, "kv count"});
    const uint64_t n_kv = u64(p);
    p += 8;
    std::function<void(uint32_t)> value = [&](uint32_t type) {
        switch (ValueType(type)) {
            case ValueType::STRING:
                out.push_back({p, 8, "string length"});
                p += 8 + u64(p);
                break;
            case ValueType::ARRAY: {
                out.push_back({p, 4, "array type"});
                const uint32_t et = u32(p);
                p += 4;
                out.push_back({p, 8, "array length"});
                const uint64_t n = u64(p);
                p += 8;
                for (uint64_t k = 0; k < n; ++k) value(et);
                break;
            }
            case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: p += 1; break;
            case ValueType::UINT16: case ValueType::INT16: p += 2; break;
            case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: p += 4; break;
            default: p += 8; break;
        }
    };
    for (uint64_t k = 0; k < n_kv; ++k) {
        out.push_back({p, 8, "key length"});
        p += 8 + u64(p);
        out.push_back({p, 4, "value type"});
        const uint32_t t = u32(p);
        p += 4;
        value(t);
    }
    for (uint64_t k = 0; k < n_t; ++k) {
        out.push_back({p, 8, "tensor name length"});
        p += 8 + u64(p);
        out.push_back({p, 4, "n_dims"});
        const uint32_t nd = u32(p);
        p += 4;
        for (uint32_t d = 0; d < nd; ++d, p += 8) out.push_back({p, 8, "dim"});
        out.push_back({p, 4, "tensor type"});
        p += 4;
        out.push_back({p, 8, "tensor offset"});
        p += 8;
    }
    return out;
}

// A parse either succeeds with every known tensor inside the buffer, or throws
// tern::Error. Anything else (a crash, another exception) fails the test;
// ASan/UBSan builds catch out-of-bounds reads.
bool parses_cleanly(const std::vector<uint8_t>& b) {
    try {
        const gguf::File f = parse(b);
        for (const auto& t : f.tensors()) {
            if (!t.known_type) continue;
            EXPECT_GE(t.data, b.data());
            EXPECT_LE(t.data + t.n_bytes, b.data() + b.size());
        }
        return true;
    } catch (const Error&) {
        return false;
    }
}

TEST(GgufMalformed, TruncatedAtEveryOffset) {
    const auto bytes = base_bytes();
    const gguf::File full = parse(bytes);
    uint64_t data_end = 0;
    for (const auto& t : full.tensors()) data_end = std::max(data_end, full.data_offset() + t.offset + t.n_bytes);
    for (size_t n = 0; n < bytes.size(); ++n) {
        std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + long(n));
        const bool ok = parses_cleanly(cut);
        if (n < data_end) {
            EXPECT_FALSE(ok) << "truncated to " << n << " bytes";
        }
    }
}

TEST(GgufMalformed, ExtremeCountsLengthsDimsOffsets) {
    const auto bytes = base_bytes();
    const auto fields = locate_fields(bytes);
    ASSERT_GT(fields.size(), 60u);
    const uint64_t extremes[] = {0, 1, 1ull << 31, 1ull << 63, ~0ull};
    int rejected = 0, total = 0;
    for (const auto& field : fields) {
        for (uint64_t v : extremes) {
            auto b = bytes;
            if (field.width == 8) {
                std::memcpy(&b[field.offset], &v, 8);
            } else {
                const uint32_t v32 = uint32_t(v);
                std::memcpy(&b[field.offset], &v32, 4);
            }
            SCOPED_TRACE(field.what + " at " + std::to_string(field.offset) + " = " + std::to_string(v));
            const bool ok = parses_cleanly(b);
            ++total;
            rejected += !ok;
            // Values that can never be valid must be rejected.
            const bool must_fail = (field.what == "n_dims" && (v == 0 || v > 4)) ||
                                   (field.what == "dim" && v == 0) ||
                                   (field.what.find("length") != std::string::npos && v >= (1ull << 31)) ||
                                   (field.what.find("count") != std::string::npos && v >= (1ull << 31)) ||
                                   (field.what == "tensor offset" && v >= (1ull << 31));
            if (must_fail) {
                EXPECT_FALSE(ok);
            }
        }
    }
    EXPECT_GT(rejected, total / 2);
}

// Rewrites the offset of tensor `name` in a file from base_writer.
std::vector<uint8_t> with_offset(std::vector<uint8_t> b, const std::string& name, uint64_t offset) {
    auto it = std::search(b.begin(), b.end(), name.begin(), name.end());
    // The name is preceded by its u64 length (1 for our single-letter names).
    while (it != b.end() && !(it - b.begin() >= 8 && b[size_t(it - b.begin()) - 8] == name.size()))
        it = std::search(it + 1, b.end(), name.begin(), name.end());
    EXPECT_NE(it, b.end());
    size_t p = size_t(it - b.begin()) + name.size();
    uint32_t nd;
    std::memcpy(&nd, &b[p], 4);
    p += 4 + 8 * nd + 4;
    std::memcpy(&b[p], &offset, 8);
    return b;
}

TEST(GgufMalformed, BadTensorPlacement) {
    const auto bytes = base_bytes();
    const gguf::File f = parse(bytes);
    // Overlapping: b starts where a does.
    EXPECT_FALSE(parses_cleanly(with_offset(bytes, "b", f.tensor("a").offset)));
    // Out of file.
    EXPECT_FALSE(parses_cleanly(with_offset(bytes, "e", f.file_size())));
    EXPECT_FALSE(parses_cleanly(with_offset(bytes, "e", f.file_size() - f.data_offset() - 32)));
    // Misaligned.
    EXPECT_FALSE(parses_cleanly(with_offset(bytes, "c", f.tensor("c").offset + 1)));
    // Duplicate names: rename "b" to "a".
    auto dup = bytes;
    const std::string b_name = "b";
    auto it = std::search(dup.begin(), dup.end(), b_name.begin(), b_name.end());
    while (it != dup.end() && dup[size_t(it - dup.begin()) - 8] != 1) it = std::search(it + 1, dup.end(), b_name.begin(), b_name.end());
    *it = 'a';
    EXPECT_FALSE(parses_cleanly(dup));
}

TEST(GgufMalformed, TensorByteSizeOverflow) {
    // dims whose product overflows 63 bits, and a product that fits but whose
    // byte size (x4 for F32) does not.
    EXPECT_EQ(gguf::tensor_bytes(uint32_t(GgmlType::F32), {1ll << 40, 1ll << 40}), std::nullopt);
    EXPECT_EQ(gguf::tensor_bytes(uint32_t(GgmlType::F32), {1ll << 31, 1ll << 31}), std::nullopt);
    EXPECT_EQ(gguf::tensor_bytes(uint32_t(GgmlType::Q8_0), {33}), std::nullopt);  // not a whole block
    EXPECT_EQ(gguf::tensor_bytes(uint32_t(GgmlType::I2_S), {100}), std::nullopt);
    EXPECT_EQ(gguf::tensor_bytes(uint32_t(GgmlType::I2_S), {2560, 6912}), 2560ull * 6912 / 4 + 32);
    EXPECT_EQ(gguf::tensor_bytes(uint32_t(GgmlType::TQ2_0), {2560, 2}), 10ull * 2 * 66);
    // In a file: patch dims of "a" (F32, [8]) to 2^62.
    auto bytes = base_bytes();
    const auto fields = locate_fields(bytes);
    for (const auto& field : fields)
        if (field.what == "dim") {
            auto b = bytes;
            const uint64_t v = 1ull << 62;
            std::memcpy(&b[field.offset], &v, 8);
            EXPECT_FALSE(parses_cleanly(b));
            break;
        }
}

TEST(GgufWriter, NoPartialFileOnFailure) {
    gguf::Writer w;
    w.set("general.architecture", Value::str("test"));
    w.add_tensor("ok", {8}, uint32_t(GgmlType::F32), iota_bytes(32, 0));
    w.add_tensor("fails", {8}, uint32_t(GgmlType::F32), [](uint8_t*, size_t) { throw Error("producer failed"); });
    const std::string p = test::temp_path("partial.gguf");
    EXPECT_THROW(w.write(p), Error);
    EXPECT_FALSE(std::filesystem::exists(p));
    EXPECT_FALSE(std::filesystem::exists(p + ".tmp"));
    // Wrong byte count for a tensor is refused.
    gguf::Writer w2;
    w2.add_tensor("short", {8}, uint32_t(GgmlType::F32), iota_bytes(31, 0));
    EXPECT_THROW(w2.write(p), Error);
    EXPECT_FALSE(std::filesystem::exists(p));
    // A tensor whose shape does not fit its type is refused at add time.
    EXPECT_THROW(w2.add_tensor("bad", {33}, uint32_t(GgmlType::Q8_0), iota_bytes(34, 0)), Error);
}

TEST(Gguf, FilesOver4GiB) {
    // A sparse file with one tensor whose data lies past 4 GiB. Writing 4 GiB
    // of zeros is too slow for a unit test, so write a small file and patch
    // the first tensor's size and the second tensor's offset.
    const std::string p = test::temp_path("big.gguf");
    gguf::Writer small;
    small.add_tensor("pad", {8, 1}, uint32_t(GgmlType::F32), iota_bytes(32, 0));
    small.add_tensor("marker", {8}, uint32_t(GgmlType::F32), iota_bytes(32, 9));
    small.write(p);
    auto bytes = test::read_file(p);
    const gguf::File f0 = parse(bytes);
    const uint64_t data_off = f0.data_offset();
    const uint64_t big = uint64_t(1) << 30;  // elements: 4 GiB of F32
    // Patch pad's dims[0] and marker's offset.
    const auto fields = locate_fields(bytes);
    size_t dim_field = 0, marker_offset_field = 0;
    int tensor_offsets_seen = 0;
    for (const auto& field : fields) {
        if (field.what == "dim" && dim_field == 0) dim_field = field.offset;
        if (field.what == "tensor offset" && ++tensor_offsets_seen == 2) marker_offset_field = field.offset;
    }
    std::memcpy(&bytes[dim_field], &big, 8);
    const uint64_t marker_off = big * 4;
    std::memcpy(&bytes[marker_offset_field], &marker_off, 8);
    bytes.resize(data_off);
    test::write_file(p, bytes);
    {
        const int fd = ::open(p.c_str(), O_WRONLY);
        ASSERT_GE(fd, 0);
        const auto marker = iota_bytes(32, 9);
        ASSERT_EQ(pwrite(fd, marker.data(), 32, off_t(data_off + marker_off)), 32);
        ::close(fd);
    }
    const gguf::File f = gguf::File::open(p);
    EXPECT_GT(f.file_size(), uint64_t(4) << 30);
    const auto& t = f.tensor("marker");
    EXPECT_EQ(t.offset, marker_off);
    EXPECT_EQ(std::vector<uint8_t>(t.data, t.data + 32), iota_bytes(32, 9));
    EXPECT_EQ(f.tensor("pad").n_bytes, big * 4);
    std::filesystem::remove(p);
}

TEST(GgufInfo, BitnetCppStyleFile) {
    const std::string p = test::temp_path("bitnet25.gguf");
    test::TinyShape shape;
    test::write_bitnet_cpp_style_gguf(p, shape);
    std::string out;
    ASSERT_EQ(test::run_tern("info --json " + p, &out), 0) << out;
    // Spot-check the JSON by substring: the fields a user reads.
    EXPECT_NE(out.find("\"architecture\": \"bitnet-25\""), std::string::npos) << out;
    EXPECT_NE(out.find("\"block_count\": 2"), std::string::npos);
    EXPECT_NE(out.find("\"embedding_length\": 256"), std::string::npos);
    EXPECT_NE(out.find("\"attention.head_count_kv\": 2"), std::string::npos);
    EXPECT_NE(out.find("\"model\": \"gpt2\""), std::string::npos);
    EXPECT_NE(out.find("\"pre\": null"), std::string::npos);
    EXPECT_NE(out.find("\"tokens\": 320"), std::string::npos);
    EXPECT_NE(out.find("\"chat_template\": true"), std::string::npos);
    EXPECT_NE(out.find("\"tensor_count\": 24"), std::string::npos);
    // 7 I2_S linears per layer x 2 layers; one F16 embedding; 10 F32 norms.
    EXPECT_NE(out.find("\"I2_S\": {\n        \"tensors\": 14"), std::string::npos) << out;
    EXPECT_NE(out.find("\"F16\": {\n        \"tensors\": 1"), std::string::npos);
    EXPECT_NE(out.find("\"F32\": {\n        \"tensors\": 9"), std::string::npos);
    EXPECT_NE(out.find("\"chosen\": "), std::string::npos);
    EXPECT_NE(out.find("\"ffn_act\": \"relu2\""), std::string::npos) << out;
    std::string text;
    ASSERT_EQ(test::run_tern("info " + p, &text), 0);
    EXPECT_NE(text.find("architecture:    bitnet-25"), std::string::npos) << text;
    EXPECT_NE(text.find("chosen table:"), std::string::npos);
    std::string err;
    EXPECT_NE(test::run_tern("info /nonexistent.gguf", &err, true), 0);
    EXPECT_NE(err.find("cannot open"), std::string::npos) << err;
    std::filesystem::remove(p);
}

}  // namespace
}  // namespace tern
