#include "model/backend.hpp"

#include <stdexcept>

namespace osprey::model {

void Backend::save_state(const BackendState& /*state*/, const StateSink& /*sink*/) const {
    throw std::logic_error("the " + name() + " backend cannot save its session state");
}

std::unique_ptr<BackendState> Backend::restore_state(const SessionOptions& /*options*/,
                                                     std::int64_t /*length*/,
                                                     const StateSource& /*source*/) {
    throw std::logic_error("the " + name() + " backend cannot restore a saved session state");
}

}  // namespace osprey::model
