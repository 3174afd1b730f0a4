#pragma once
// Choosing the compute backend the engine runs on, from a user's request ("auto", "cpu", "cuda",
// "cuda:N"). Asking for CUDA where there is none is an error that says why; "auto" falls back to
// cpu.

#include <stdexcept>
#include <string>
#include <string_view>

namespace osprey::model {

enum class BackendKind { cpu, cuda };

std::string_view to_string(BackendKind kind);

// A request the user typed that is not a backend name at all.
class BackendRequestError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// A well-formed request this machine or build cannot serve (e.g. "cuda" with no GPU).
class BackendUnavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct BackendRequest {
    enum class Kind { automatic, cpu, cuda } kind = Kind::automatic;
    int device = -1;  // cuda:N; -1 = first usable device
};

// Throws BackendRequestError naming the bad text and the accepted forms.
BackendRequest parse_backend_request(std::string_view text);

struct BackendSelection {
    BackendKind kind = BackendKind::cpu;
    int device = 0;           // CUDA device index; 0 for cpu
    std::string description;  // e.g. "cuda:0 (NVIDIA H200, sm_90)" or "cpu (x86-64; avx2 fma ...)"
    std::string note;         // why auto chose cpu, when it did
};

// Throws BackendUnavailable ("no CUDA device (...)", "CUDA device 3 does not exist ...").
BackendSelection select_backend(const BackendRequest& request);

}  // namespace osprey::model
