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

}  // namespace osprey::model
