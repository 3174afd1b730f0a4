#pragma once
// The two ways a tool call fails: the arguments are wrong (schema, unknown tool: the caller must
// change the call; CLI exit 2), or the tool ran and failed (missing file, path outside the
// workspace, unknown revision: CLI exit 1). Messages are written for the model and the user.

#include <stdexcept>

namespace osprey::tools {

class ToolError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class ArgumentError : public ToolError {
public:
    using ToolError::ToolError;
};

}  // namespace osprey::tools
