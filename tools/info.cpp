// `tern info [MODEL.gguf] [--json] [--tensors]`: what a model file holds and
// which kernels this CPU gets.
#include <map>
#include <string>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "tern/diagnostics.h"
#include "tern/error.h"
#include "tern/gguf.h"

namespace tern::cli {

namespace {

using nlohmann::ordered_json;

ordered_json value_to_json(const gguf::Value& v, size_t max_items) {
    using gguf::ValueType;
    switch (v.type) {
        case ValueType::UINT8: case ValueType::UINT16: case ValueType::UINT32: case ValueType::UINT64:
            return v.u;
        case ValueType::INT8: case ValueType::INT16: case ValueType::INT32: case ValueType::INT64:
            return v.i;
        case ValueType::FLOAT32: case ValueType::FLOAT64:
            return v.f;
        case ValueType::BOOL:
            return v.u != 0;
        case ValueType::STRING:
            return v.s;
        case ValueType::ARRAY: {
            ordered_json a = ordered_json::array();
            for (size_t k = 0; k < v.items.size() && k < max_items; ++k) a.push_back(value_to_json(v.items[k], max_items));
            return a;
        }
    }
    return nullptr;
}

ordered_json cpu_json() {
    const CpuInfo f = cpu_info();
    ordered_json j;
    j["arch"] = f.arch;
    j["model"] = f.model;
    j["features"] = f.features;
    ordered_json tables = ordered_json::array();
    for (const auto& e : kernel_tables())
        tables.push_back({{"name", e.name}, {"runs_here", e.runs_here}, {"requires", e.requires_}});
    j["tables"] = tables;
    try {
        j["chosen"] = active_kernel_table();
        j["reason"] = active_kernel_table_reason();
    } catch (const std::exception& e) {
        j["chosen"] = nullptr;
        j["reason"] = e.what();
    }
    return j;
}

std::string token_text(const gguf::File& f, int64_t id) {
    const gguf::Value* toks = f.find("tokenizer.ggml.tokens");
    if (!toks || toks->type != gguf::ValueType::ARRAY || id < 0 || uint64_t(id) >= toks->items.size()) return "";
    const auto& item = toks->items[size_t(id)];
    return item.type == gguf::ValueType::STRING ? item.s : "";
}

ordered_json model_json(const gguf::File& f, bool with_tensors) {
    ordered_json j;
    j["file"] = f.path();
    j["file_size"] = f.file_size();
    j["gguf_version"] = f.version();
    j["alignment"] = f.alignment();
    const std::string arch = f.get_optional<std::string>("general.architecture").value_or("");
    j["architecture"] = arch.empty() ? ordered_json(nullptr) : ordered_json(arch);
    if (auto name = f.get_optional<std::string>("general.name")) j["name"] = *name;

    // Hyper-parameters: every `{arch}.` key, as the file says them.
    ordered_json hp = ordered_json::object();
    if (!arch.empty())
        for (const auto& [key, v] : f.metadata())
            if (key.rfind(arch + ".", 0) == 0) hp[key.substr(arch.size() + 1)] = value_to_json(v, 16);
    j["hyperparameters"] = hp;
    // How tern will run it: the FFN activation settles the `bitnet` ambiguity (SPEC §1).
    try {
        const FfnChoice h = ffn_act_for(f);
        j["ffn_act"] = ffn_act_name(h.act);
        j["ffn_act_reason"] = h.reason;
        const auto pooling = embedding_pooling(f);
        j["output_head"] = !pooling.has_value();
        if (pooling) j["pooling"] = pooling->empty() ? ordered_json(nullptr) : ordered_json(*pooling);
    } catch (const Error& e) {
        j["ffn_act"] = nullptr;
        j["ffn_act_reason"] = std::string("not runnable: ") + e.what();
    }

    ordered_json tok;
    if (auto model = f.get_optional<std::string>("tokenizer.ggml.model")) {
        tok["model"] = *model;
        tok["pre"] = f.has("tokenizer.ggml.pre") ? ordered_json(f.get<std::string>("tokenizer.ggml.pre")) : ordered_json(nullptr);
        const gguf::Value* toks = f.find("tokenizer.ggml.tokens");
        tok["tokens"] = toks ? toks->items.size() : 0;
        const gguf::Value* merges = f.find("tokenizer.ggml.merges");
        tok["merges"] = merges ? merges->items.size() : 0;
        ordered_json special = ordered_json::object();
        for (const char* which : {"bos", "eos", "eot", "eom", "unknown", "padding"}) {
            const std::string key = std::string("tokenizer.ggml.") + which + "_token_id";
            if (const gguf::Value* v = f.find(key); v && v->is_integer()) {
                const int64_t id = v->u ? int64_t(v->u) : v->i;
                special[which] = {{"id", id}, {"text", token_text(f, id)}};
            }
        }
        tok["special"] = special;
        if (auto add_bos = f.get_optional<bool>("tokenizer.ggml.add_bos_token")) tok["add_bos"] = *add_bos;
        if (auto add_eos = f.get_optional<bool>("tokenizer.ggml.add_eos_token")) tok["add_eos"] = *add_eos;
    }
    j["tokenizer"] = tok.is_null() ? ordered_json(nullptr) : tok;
    j["chat_template"] = f.has("tokenizer.chat_template");

    std::map<std::string, std::pair<int64_t, uint64_t>> per_type;  // count, bytes
    std::map<std::string, int64_t> unknown;
    int64_t params = 0;
    for (const auto& t : f.tensors()) {
        if (t.known_type) {
            auto& [count, bytes] = per_type[ggml_type_name(t.type)];
            ++count;
            bytes += t.n_bytes;
        } else {
            ++unknown[ggml_type_name(t.type)];
        }
        params += t.n_elements;
    }
    j["tensor_count"] = f.tensors().size();
    j["parameters"] = params;
    ordered_json types = ordered_json::object();
    for (const auto& [name, cb] : per_type) types[name] = {{"tensors", cb.first}, {"bytes", cb.second}};
    j["tensor_types"] = types;
    if (!unknown.empty()) {
        ordered_json u = ordered_json::object();
        for (const auto& [name, count] : unknown) u[name] = count;
        j["unknown_tensor_types"] = u;
    }
    if (with_tensors) {
        ordered_json list = ordered_json::array();
        for (const auto& t : f.tensors())
            list.push_back({{"name", t.name}, {"type", ggml_type_name(t.type)}, {"dims", t.dims}, {"offset", t.offset},
                            {"bytes", t.n_bytes}});
        j["tensors"] = list;
    }
    return j;
}

std::string human_bytes(uint64_t b) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = double(b);
    int u = 0;
    while (v >= 1024 && u < 4) v /= 1024, ++u;
    return u == 0 ? fmt::format("{} B", b) : fmt::format("{:.2f} {}", v, units[u]);
}

void print_text(const ordered_json& m, const ordered_json& cpu) {
    if (!m.is_null()) {
        fmt::print("file:            {} ({}, GGUF v{}, alignment {})\n", m["file"].get<std::string>(),
                   human_bytes(m["file_size"].get<uint64_t>()), m["gguf_version"].get<uint32_t>(),
                   m["alignment"].get<uint64_t>());
        fmt::print("architecture:    {}\n", m["architecture"].is_null() ? "(none)" : m["architecture"].get<std::string>());
        if (m.contains("name")) fmt::print("name:            {}\n", m["name"].get<std::string>());
        if (!m["hyperparameters"].empty()) {
            fmt::print("hyper-parameters:\n");
            for (const auto& [k, v] : m["hyperparameters"].items()) fmt::print("  {:<36} {}\n", k, v.dump());
        }
        fmt::print("ffn activation:  {} ({})\n", m["ffn_act"].is_null() ? "-" : m["ffn_act"].get<std::string>(),
                   m["ffn_act_reason"].get<std::string>());
        if (m.contains("output_head") && !m["output_head"].get<bool>())
            fmt::print("output head:     none: an embedding model (pooling {}; tern embed)\n",
                       m["pooling"].is_null() ? "last, the default" : m["pooling"].get<std::string>());
        const auto& tok = m["tokenizer"];
        if (tok.is_null()) {
            fmt::print("tokenizer:       none\n");
        } else {
            fmt::print("tokenizer:       {} (pre: {}), {} tokens, {} merges\n", tok["model"].get<std::string>(),
                       tok["pre"].is_null() ? "none" : tok["pre"].get<std::string>(), tok["tokens"].get<uint64_t>(),
                       tok["merges"].get<uint64_t>());
            for (const auto& [k, v] : tok["special"].items())
                fmt::print("  {:<8} {:>7}  {}\n", k, v["id"].get<int64_t>(), v["text"].get<std::string>());
        }
        fmt::print("chat template:   {}\n", m["chat_template"].get<bool>() ? "present" : "absent");
        fmt::print("tensors:         {} ({} parameters)\n", m["tensor_count"].get<uint64_t>(), m["parameters"].get<int64_t>());
        for (const auto& [k, v] : m["tensor_types"].items())
            fmt::print("  {:<8} {:>5} tensors  {:>12}\n", k, v["tensors"].get<int64_t>(), human_bytes(v["bytes"].get<uint64_t>()));
        if (m.contains("unknown_tensor_types"))
            for (const auto& [k, v] : m["unknown_tensor_types"].items())
                fmt::print("  {:<8} {:>5} tensors  (type unknown to tern: refused if used)\n", k, v.get<int64_t>());
        if (m.contains("tensors"))
            for (const auto& t : m["tensors"])
                fmt::print("  {:<32} {:<6} {:<20} offset {}\n", t["name"].get<std::string>(), t["type"].get<std::string>(),
                           t["dims"].dump(), t["offset"].get<uint64_t>());
    }
    fmt::print("cpu:             {} ({})\n", cpu["model"].get<std::string>(), cpu["arch"].get<std::string>());
    std::string feats;
    for (const auto& x : cpu["features"]) feats += (feats.empty() ? "" : " ") + x.get<std::string>();
    fmt::print("cpu features:    {}\n", feats.empty() ? "(none detected)" : feats);
    fmt::print("kernel tables:\n");
    for (const auto& t : cpu["tables"])
        fmt::print("  {:<12} {:<10} needs {}\n", t["name"].get<std::string>(),
                   t["runs_here"].get<bool>() ? "runs here" : "not here", t["requires"].get<std::string>());
    fmt::print("chosen table:    {} ({})\n", cpu["chosen"].is_null() ? "none" : cpu["chosen"].get<std::string>(),
               cpu["reason"].get<std::string>());
}

// Every table this CPU runs, every kernel, against the reference. Returns the
// JSON report; `failures` counts kernels that differ.
ordered_json self_test_json(int* failures) {
    ordered_json out = ordered_json::array();
    *failures = 0;
    for (const auto& e : kernel_tables()) {
        ordered_json t;
        t["table"] = e.name;
        if (!e.runs_here) {
            t["skipped"] = "needs " + e.requires_;
            out.push_back(t);
            continue;
        }
        ordered_json ks = ordered_json::object();
        for (const auto& r : self_test(e.name)) {
            if (!r.offered) {
                ks[r.kernel] = "not offered";
            } else if (r.passed) {
                ks[r.kernel] = "pass";
            } else {
                ks[r.kernel] = "FAIL: " + r.detail;
                ++*failures;
            }
        }
        t["kernels"] = ks;
        out.push_back(t);
    }
    return out;
}

void print_self_test(const ordered_json& st, int failures) {
    fmt::print("self-test (every kernel against the reference, bit for bit, on this CPU):\n");
    for (const auto& t : st) {
        if (t.contains("skipped")) {
            fmt::print("  {:<12} skipped ({})\n", t["table"].get<std::string>(), t["skipped"].get<std::string>());
            continue;
        }
        std::string line;
        for (const auto& [k, v] : t["kernels"].items()) {
            const std::string s = v.get<std::string>();
            line += fmt::format("  {} {}", k, s == "pass" ? "pass" : s == "not offered" ? "-" : "FAIL");
        }
        fmt::print("  {:<12}{}\n", t["table"].get<std::string>(), line);
        for (const auto& [k, v] : t["kernels"].items())
            if (v.get<std::string>().rfind("FAIL", 0) == 0) fmt::print("    {}: {}\n", k, v.get<std::string>());
    }
    fmt::print("self-test: {}\n", failures ? fmt::format("{} kernel(s) FAILED", failures) : std::string("all pass"));
}

}  // namespace

void register_info(CLI::App& app) {
    struct Opts {
        std::string model;
        bool json = false;
        bool tensors = false;
        bool self_test = false;
    };
    auto opts = std::make_shared<Opts>();
    CLI::App* cmd = app.add_subcommand("info", "Describe a GGUF model file and this CPU's kernel choice");
    cmd->add_option("model,-m,--model", opts->model, "GGUF model file (optional: without it, only the CPU is described)");
    cmd->add_flag("--json", opts->json, "Print JSON instead of text");
    cmd->add_flag("--tensors", opts->tensors, "List every tensor");
    cmd->add_flag("--self-test", opts->self_test,
                  "Run every kernel of every table this CPU supports against the reference on random data; "
                  "exit status 1 if any differs");
    cmd->callback([opts] {
        ordered_json m;
        if (!opts->model.empty()) {
            const gguf::File f = gguf::File::open(opts->model);
            m = model_json(f, opts->tensors);
        }
        const ordered_json cpu = cpu_json();
        int failures = 0;
        const ordered_json st = opts->self_test ? self_test_json(&failures) : ordered_json(nullptr);
        if (opts->json) {
            ordered_json out;
            if (!m.is_null()) out["model"] = m;
            out["cpu"] = cpu;
            if (!st.is_null()) out["self_test"] = st;
            fmt::print("{}\n", out.dump(2));
        } else {
            print_text(m, cpu);
            if (!st.is_null()) print_self_test(st, failures);
        }
        if (failures)
            throw Error("self-test: " + std::to_string(failures) +
                        " kernel(s) differ from the reference on this CPU; force a passing table with TERN_ISA=...");
    });
}

}  // namespace tern::cli
