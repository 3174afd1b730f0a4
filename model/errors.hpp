#pragma once
// Errors of the engine's inputs. ModelFormatError means the model directory itself is wrong
// (config or checkpoint): the CLI reports it with exit code 2. The message names the file, key or
// tensor at fault.

#include <stdexcept>

namespace osprey::model {

class ModelFormatError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class ConfigError : public ModelFormatError {
public:
    using ModelFormatError::ModelFormatError;
};

class CheckpointError : public ModelFormatError {
public:
    using ModelFormatError::ModelFormatError;
};

// Saved session state (Backend::restore_state / Session::restore) that cannot be used here: a
// section is missing, has the wrong size, or was made for another config or session options. The
// message names the section and both shapes.
class StateFormatError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace osprey::model
