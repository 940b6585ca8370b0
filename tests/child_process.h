// `tern ARGS` as a child process the test can signal: stdout and stderr go to
// files, the test waits for a line on stderr, sends SIGINT, and reads the exit
// status. For the Ctrl-C behaviour of the long-running subcommands.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "test_util.h"

namespace tern::test {

class TernChild {
public:
    explicit TernChild(const std::string& args)
        : out_(temp_path("child.out")), err_(temp_path("child.err")) {
        pid_ = fork();
        if (pid_ == 0) {
            const std::string cmd = "exec " + std::string(TERN_BINARY) + " " + args + " >" + out_ + " 2>" + err_;
            execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
    }
    ~TernChild() {
        if (pid_ > 0 && status_ < 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        std::filesystem::remove(out_);
        std::filesystem::remove(err_);
    }
    TernChild(const TernChild&) = delete;
    TernChild& operator=(const TernChild&) = delete;

    // Waits until stderr contains `text` (false: the child ended first, or `limit` passed).
    bool wait_for_stderr(const std::string& text, std::chrono::seconds limit = std::chrono::seconds(120)) {
        const auto end = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < end) {
            if (stderr_text().find(text) != std::string::npos) return true;
            if (waitpid(pid_, &raw_, WNOHANG) == pid_) {
                status_ = WIFEXITED(raw_) ? WEXITSTATUS(raw_) : 128 + WTERMSIG(raw_);
                return stderr_text().find(text) != std::string::npos;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }
    void interrupt() const { kill(pid_, SIGINT); }
    // The exit code (128 + signal when killed); -1 if it has not ended within `limit` (it is killed then).
    int wait(std::chrono::seconds limit = std::chrono::seconds(120)) {
        const auto end = std::chrono::steady_clock::now() + limit;
        while (status_ < 0 && std::chrono::steady_clock::now() < end) {
            if (waitpid(pid_, &raw_, WNOHANG) == pid_) {
                status_ = WIFEXITED(raw_) ? WEXITSTATUS(raw_) : 128 + WTERMSIG(raw_);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return status_;
    }
    std::string stdout_text() const { return slurp(out_); }
    std::string stderr_text() const { return slurp(err_); }

private:
    static std::string slurp(const std::string& path) {
        std::ifstream f(path, std::ios::binary);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }
    std::string out_, err_;
    pid_t pid_ = -1;
    int raw_ = 0;
    int status_ = -1;
};

}  // namespace tern::test
