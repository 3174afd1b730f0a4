#pragma once
// The terminal's line editor: libedit (emacs keys, history persisted to a file), with Ctrl-C
// delivered as a key rather than a signal while a line is being edited, so the prompt can tell
// "clear the line" from "quit" and the agent's own Ctrl-C handling stays for generation.

#include <filesystem>
#include <memory>
#include <string>

namespace osprey::agent::interactive {

struct LineInput {
    enum class Kind { line, interrupt, eof };
    Kind kind = Kind::line;
    std::string text;  // the line without its newline (kind == line), or what was typed
};

class LineEditor {
public:
    // `history_file` empty: history is kept in memory only. The file is loaded now (a missing
    // file is fine) and saved after each remembered line.
    explicit LineEditor(std::filesystem::path history_file);
    LineEditor(const LineEditor&) = delete;
    LineEditor& operator=(const LineEditor&) = delete;
    ~LineEditor();

    // Reads one line after `prompt` (which may hold ANSI colour sequences). `remember`: add a
    // non-empty line to the history.
    LineInput read(const std::string& prompt, bool remember = true);

    const std::filesystem::path& history_file() const { return history_file_; }

    struct State;  // libedit's handles (defined in the source; its callbacks reach it)

private:
    std::unique_ptr<State> state_;
    std::filesystem::path history_file_;
};

// Columns of the terminal on standard output (80 when it cannot be told).
int terminal_columns();

}  // namespace osprey::agent::interactive
