#include "agent/cli/chat_commands.hpp"

#include "agent/cli/input_files.hpp"
#include "model/chat/chat_encoder.hpp"
#include "model/chat/output_parser.hpp"

namespace osprey::agent::cli {
namespace {

model::ChatOptions options_from(const Args& args) {
    const std::string mode = args.value("--mode").value_or("chat");
    model::ChatOptions o;
    if (mode == "chat") {
        o.mode = model::ThinkingMode::chat;
    } else if (mode == "think") {
        o.mode = model::ThinkingMode::thinking;
        o.effort = model::ReasoningEffort::high;
    } else if (mode == "max") {
        o.mode = model::ThinkingMode::thinking;
        o.effort = model::ReasoningEffort::max;
    } else {
        throw UsageError("unknown mode '" + mode + "' for --mode: expected chat, think or max");
    }
    o.drop_thinking = !args.has("--keep-thinking");
    return o;
}

int run_render(const Args& args, Io& io) {
    const auto options = options_from(args);
    const auto path = args.value("--messages");
    if (!path) {
        throw UsageError("--messages FILE is required");
    }
    try {
        const std::string text = read_input_file(*path, "messages file");
        const auto json = nlohmann::ordered_json::parse(text, nullptr, false);
        if (json.is_discarded()) {
            throw InputError("messages file '" + *path + "' is not valid JSON");
        }
        try {
            io.out << model::render_chat(model::messages_from_request(json), options);
        } catch (const model::ChatFormatError& e) {
            throw InputError("messages file '" + *path + "': " + e.what());
        }
        return kExitOk;
    } catch (const InputError& e) {
        io.err << "osprey chat render: " << e.what() << "\n";
        return kExitUsage;
    }
}

int run_parse(const Args& args, Io& io) {
    const auto options = options_from(args);
    std::string text;
    try {
        text = read_stdin("completion text");
    } catch (const InputError& e) {
        io.err << "osprey chat parse: " << e.what() << "\n";
        return kExitUsage;
    }
    const auto message = model::parse_completion(text, options.mode);
    auto json = model::message_to_json(message);
    if (message.error) {
        json["error"] = *message.error;
        io.out << json.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
               << "\n";
        io.err << "osprey chat parse: " << *message.error << "\n";
        return kExitFailure;
    }
    io.out << json.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
    return kExitOk;
}

}  // namespace

Command chat_command() {
    const Option mode{"--mode", "MODE", "chat (default), think or max (think with maximum effort)"};

    Command render;
    render.name = "render";
    render.summary = "print the DeepSeek-V4 prompt of a conversation";
    render.description =
        "FILE holds OpenAI-style messages: a JSON list, or {\"messages\": [...], \"tools\": "
        "[...]}\n"
        "(tools go to the first system message). Prints the prompt byte-exactly, BOS included, as\n"
        "DeepSeek's encoder renders it. Earlier reasoning is dropped unless --keep-thinking (or\n"
        "tools are present). Exit 2 on unreadable or invalid input.";
    render.options = {{"--messages", "FILE", "the conversation ('-' for stdin)"},
                      mode,
                      {"--keep-thinking", "", "keep the reasoning of earlier turns"}};
    render.run = run_render;

    Command parse;
    parse.name = "parse";
    parse.summary = "parse a completion (stdin) into the assistant message (JSON)";
    parse.description =
        "Reads the generated text after the prompt, up to <｜end▁of▁sentence｜>, and prints\n"
        "{\"role\", \"content\", \"reasoning_content\", \"tool_calls\": [{\"type\": \"function\",\n"
        "\"function\": {\"name\", \"arguments\"}}]} with arguments a JSON string. Malformed "
        "output:\n"
        "the same JSON with an \"error\" member, the reason on stderr, exit 1.";
    parse.options = {mode};
    parse.run = run_parse;

    Command c;
    c.name = "chat";
    c.summary = "render conversations to prompts and parse completions (DeepSeek-V4 DSML)";
    c.subcommands = {render, parse};
    return c;
}

}  // namespace osprey::agent::cli
