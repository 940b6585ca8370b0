// Session::State: a Session is one Sequence run through the Forward pass.
// Shared by session.cpp and session_file.cpp.
#pragma once

#include "model/forward.h"
#include "tern/session.h"

namespace tern {

struct Session::State {
    State(const ModelWeights& w, int n_threads, int64_t n_ctx, int64_t n_batch, bool kv_f16)
        : fwd(w, n_threads, n_batch, n_ctx, kv_f16), seq(w.hp, n_ctx, kv_f16) {}
    Forward fwd;
    Sequence seq;
};

}  // namespace tern
