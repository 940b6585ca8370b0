// `tern serve` for the tests: the binary as a child process on 127.0.0.1 (a
// free port it picks and prints), and small clients over httplib. Shared by
// serve_test.cpp and serve_service_test.cpp.
#pragma once

#include <fcntl.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace tern::serve_client {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

extern const std::string kModel;       // the bundled story model
extern const std::string kEmbedModel;  // a tiny embedding model (qwen3, I2_S, last-token pooling)

// A `tern serve` child process. Its stderr is read by a thread (so the pipe
// never fills); the constructor waits (60 s at most) for "listening on".
class ServerProcess {
public:
    // `extra`: further flags; `np` slots (-np) of `ctx` positions (-c); `model` for -m.
    explicit ServerProcess(const std::vector<std::string>& extra, int np = 4, int ctx = 256,
                           const std::string& model = kModel) {
        // A server may close a connection the test is still writing to (a
        // refused body): that must fail the write, not kill the test process.
        signal(SIGPIPE, SIG_IGN);
        std::vector<std::string> args = {TERN_BINARY, "serve", "-m", model, "--host", "127.0.0.1", "--port", "0",
                                         "-np", std::to_string(np), "-c", std::to_string(ctx), "-t", "2"};
        args.insert(args.end(), extra.begin(), extra.end());
        int fds[2];
        if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
        pid_ = fork();
        if (pid_ == 0) {
            // The server goes with the test process, however that ends (the
            // fork is made on the test's main thread, which lives as long).
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            dup2(fds[1], 2);
            const int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, 1);
            close(fds[0]);
            close(fds[1]);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            execv(argv[0], argv.data());
            _exit(127);
        }
        close(fds[1]);
        fd_ = fds[0];
        reader_ = std::thread([this] {
            char buf[4096];
            for (;;) {
                const ssize_t n = read(fd_, buf, sizeof buf);
                if (n <= 0) break;
                std::lock_guard lk(m_);
                err_.append(buf, size_t(n));
            }
        });
        const std::regex ready("listening on http://127\\.0\\.0\\.1:([0-9]+)");
        const auto until = Clock::now() + std::chrono::seconds(60);
        while (Clock::now() < until && port_ == 0) {
            {
                std::lock_guard lk(m_);
                std::smatch m;
                if (std::regex_search(err_, m, ready)) port_ = std::stoi(m[1]);
            }
            if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    ~ServerProcess() {
        if (pid_ > 0 && !reaped_) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        if (reader_.joinable()) reader_.join();
        if (fd_ >= 0) close(fd_);
    }
    int port() const { return port_; }
    pid_t pid() const { return pid_; }
    std::string stderr_text() {
        std::lock_guard lk(m_);
        return err_;
    }

    // SIGTERM, then the exit status (-1: killed after `limit`, or not a normal exit).
    int stop(std::chrono::seconds limit = std::chrono::seconds(20)) {
        kill(pid_, SIGTERM);
        const auto until = Clock::now() + limit;
        int status = 0;
        while (Clock::now() < until) {
            const pid_t r = waitpid(pid_, &status, WNOHANG);
            if (r == pid_) {
                reaped_ = true;
                return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return -1;
    }

private:
    pid_t pid_ = -1;
    int fd_ = -1;
    int port_ = 0;
    bool reaped_ = false;
    std::thread reader_;
    std::mutex m_;
    std::string err_;
};

struct Sse {
    std::vector<json> chunks;  // every `data:` payload but [DONE]
    bool done = false;         // saw `data: [DONE]`
    int status = 0;
};

struct Reply {
    int status = 0;
    json body;
};

httplib::Client client_for(int port);

// POSTs with stream: true and parses the events. `stop_after` > 0: the
// client hangs up after that many chunks.
Sse post_stream(int port, const std::string& path, const json& body, size_t stop_after = 0, const std::string& auth = "");

Reply post_json(int port, const std::string& path, const std::string& body, const std::string& auth = "");
Reply post_json(int port, const std::string& path, const json& body);
Reply get(int port, const std::string& path, const std::string& auth = "");
std::string get_text(int port, const std::string& path, const std::string& auth = "");

// A Prometheus sample's value, or -1.
double metric(const std::string& text, const std::string& name);

json greedy_completion(const std::string& prompt, int max_tokens);

}  // namespace tern::serve_client
