#include <catch2/catch.hpp>

#include "kernels/cuda/cuda_probe.hpp"
#include "model/compute_backend.hpp"

using namespace osprey::model;
using Kind = BackendRequest::Kind;

TEST_CASE("backend requests parse") {
    CHECK(parse_backend_request("auto").kind == Kind::automatic);
    CHECK(parse_backend_request("cpu").kind == Kind::cpu);
    const BackendRequest cuda = parse_backend_request("cuda");
    CHECK(cuda.kind == Kind::cuda);
    CHECK(cuda.device == -1);
    const BackendRequest cuda3 = parse_backend_request("cuda:3");
    CHECK(cuda3.kind == Kind::cuda);
    CHECK(cuda3.device == 3);
}

TEST_CASE("bad backend requests name the text and the accepted forms") {
    for (const char* bad : {"gpu", "CUDA", "cuda:", "cuda:x", "cuda:1x", "cuda:-1", "cpu:0"}) {
        INFO(bad);
        try {
            parse_backend_request(bad);
            FAIL("accepted " << bad);
        } catch (const BackendRequestError& e) {
            const std::string msg = e.what();
            CHECK(msg.find(std::string("'") + bad + "'") != std::string::npos);
            CHECK(msg.find("auto, cpu, cuda or cuda:N") != std::string::npos);
        }
    }
}

TEST_CASE("cpu is always selectable") {
    const BackendSelection s = select_backend(parse_backend_request("cpu"));
    CHECK(s.kind == BackendKind::cpu);
    CHECK(s.description.rfind("cpu (", 0) == 0);
    CHECK(s.note.empty());
}

TEST_CASE("asking for cuda without a usable device fails and says why; auto falls back") {
    const auto probe = osprey::kernels::probe_cuda();
    bool any_usable = false;
    for (const auto& d : probe.devices) {
        any_usable = any_usable || d.kernels_compatible;
    }
    if (any_usable) {
        const BackendSelection s = select_backend(parse_backend_request("auto"));
        CHECK(s.kind == BackendKind::cuda);
        CHECK_THROWS_AS(select_backend(parse_backend_request("cuda:999")), BackendUnavailable);
        return;
    }
    try {
        select_backend(parse_backend_request("cuda"));
        FAIL("cuda selected without a usable device");
    } catch (const BackendUnavailable& e) {
        const std::string msg = e.what();
        const bool explained = msg.find("no CUDA device") != std::string::npos ||
                               msg.find("no CUDA backend") != std::string::npos;
        CHECK(explained);
    }
    const BackendSelection fallback = select_backend(parse_backend_request("auto"));
    CHECK(fallback.kind == BackendKind::cpu);
    CHECK(fallback.note.rfind("using cpu: ", 0) == 0);
}
