#include "agent/cli/interactive/line_editor.hpp"

#include <histedit.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <system_error>

namespace osprey::agent::interactive {

struct LineEditor::State {
    EditLine* el = nullptr;
    History* history = nullptr;
    std::string prompt;
    bool interrupted = false;

    ~State() {
        if (el != nullptr) {
            el_end(el);
        }
        if (history != nullptr) {
            history_end(history);
        }
    }
};

namespace {

LineEditor::State* state_of(EditLine* el) {
    void* data = nullptr;
    el_get(el, EL_CLIENTDATA, &data);
    return static_cast<LineEditor::State*>(data);
}

char* prompt_of(EditLine* el) {
    return state_of(el)->prompt.data();
}

// Ctrl-C while editing: end the read; read() reports it as an interrupt.
unsigned char on_interrupt_key(EditLine* el, int /*ch*/) {
    state_of(el)->interrupted = true;
    return CC_EOF;
}

}  // namespace

LineEditor::LineEditor(std::filesystem::path history_file)
    : state_(std::make_unique<State>()), history_file_(std::move(history_file)) {
    State& s = *state_;
    s.el = el_init("osprey", stdin, stdout, stderr);
    if (s.el == nullptr) {
        throw std::system_error(errno, std::generic_category(), "cannot start the line editor");
    }
    s.history = history_init();
    HistEvent ev;
    history(s.history, &ev, H_SETSIZE, 2000);
    history(s.history, &ev, H_SETUNIQUE, 1);
    if (!history_file_.empty()) {
        history(s.history, &ev, H_LOAD, history_file_.c_str());
    }
    el_set(s.el, EL_CLIENTDATA, static_cast<void*>(&s));
    el_set(s.el, EL_EDITOR, "emacs");
    el_set(s.el, EL_HIST, history, s.history);
    // '\1' brackets the prompt's escape sequences so libedit does not count them as columns.
    el_set(s.el, EL_PROMPT_ESC, prompt_of, '\1');
    el_set(s.el, EL_SETTY, "-d", "-isig", nullptr);
    el_set(s.el, EL_ADDFN, "osprey-interrupt", "Stop editing (Ctrl-C)", on_interrupt_key);
    el_set(s.el, EL_BIND, "^C", "osprey-interrupt", nullptr);
    el_source(s.el, nullptr);  // the user's ~/.editrc, if any
}

LineEditor::~LineEditor() = default;

LineInput LineEditor::read(const std::string& prompt, bool remember) {
    State& s = *state_;
    // Escape sequences are wrapped in '\1' pairs for EL_PROMPT_ESC.
    s.prompt.clear();
    bool in_escape = false;
    for (const char c : prompt) {
        if (c == '\033' && !in_escape) {
            s.prompt += '\1';
            in_escape = true;
        }
        s.prompt += c;
        if (in_escape && c == 'm') {
            s.prompt += '\1';
            in_escape = false;
        }
    }
    s.interrupted = false;
    std::fflush(stdout);
    int count = 0;
    const char* line = el_gets(s.el, &count);
    LineInput input;
    if (s.interrupted) {
        input.kind = LineInput::Kind::interrupt;
        const LineInfo* info = el_line(s.el);
        if (info != nullptr) {
            input.text.assign(info->buffer, info->lastchar);
        }
        // The next read starts from an empty line.
        el_reset(s.el);
        return input;
    }
    if (line == nullptr && count < 0) {
        // A signal interrupted the read (e.g. SIGTERM): the caller decides.
        input.kind = LineInput::Kind::interrupt;
        return input;
    }
    if (line == nullptr || count <= 0) {
        input.kind = LineInput::Kind::eof;
        return input;
    }
    input.text.assign(line, static_cast<std::size_t>(count));
    while (!input.text.empty() && (input.text.back() == '\n' || input.text.back() == '\r')) {
        input.text.pop_back();
    }
    if (remember && input.text.find_first_not_of(" \t") != std::string::npos) {
        HistEvent ev;
        history(s.history, &ev, H_ENTER, input.text.c_str());
        if (!history_file_.empty()) {
            history(s.history, &ev, H_SAVE, history_file_.c_str());
        }
    }
    return input;
}

int terminal_columns() {
    winsize ws{};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        return ws.ws_col;
    }
    return 80;
}

}  // namespace osprey::agent::interactive
