#include "agent/cli/tokenizer_commands.hpp"

#include <nlohmann/json.hpp>

#include "agent/cli/input_files.hpp"
#include "model/tokenizer/tokenizer.hpp"

namespace osprey::agent::cli {
namespace {

model::Tokenizer load_tokenizer(const Args& args) {
    const auto path = args.value("--tokenizer");
    if (!path) {
        throw UsageError("--tokenizer FILE is required (a tokenizer.json or a folder holding one)");
    }
    try {
        return model::Tokenizer::load(*path);
    } catch (const std::exception& e) {
        throw InputError(e.what());
    }
}

int report(const char* command, const InputError& e, Io& io) {
    io.err << "osprey " << command << ": " << e.what() << "\n";
    return kExitUsage;
}

int run_tokenize(const Args& args, Io& io) {
    try {
        const auto tokenizer = load_tokenizer(args);
        const std::string text = args.has("--text-file")
                                     ? read_input_file(*args.value("--text-file"), "text file")
                                     : read_stdin("text");
        std::vector<model::TokenId> ids;
        try {
            ids = tokenizer.encode(text);
        } catch (const std::invalid_argument& e) {
            throw InputError(e.what());
        }
        io.out << nlohmann::json(ids).dump() << "\n";
        return kExitOk;
    } catch (const InputError& e) {
        return report("tokenize", e, io);
    }
}

int run_detokenize(const Args& args, Io& io) {
    try {
        const auto tokenizer = load_tokenizer(args);
        const std::string input = read_stdin("token ids");
        const auto json = nlohmann::json::parse(input, nullptr, false);
        if (json.is_discarded() || !json.is_array()) {
            throw InputError("stdin is not a JSON array of token ids");
        }
        std::vector<model::TokenId> ids;
        for (const auto& v : json) {
            if (!v.is_number_integer() || v.get<std::int64_t>() < 0 ||
                v.get<std::int64_t>() > INT32_MAX ||
                !tokenizer.contains(static_cast<model::TokenId>(v.get<std::int64_t>()))) {
                throw InputError("token id " + v.dump() + " is not in the tokenizer");
            }
            ids.push_back(static_cast<model::TokenId>(v.get<std::int64_t>()));
        }
        io.out << tokenizer.decode(ids);
        return kExitOk;
    } catch (const InputError& e) {
        return report("detokenize", e, io);
    }
}

}  // namespace

Command tokenize_command() {
    Command c;
    c.name = "tokenize";
    c.summary = "print the token ids of a text (JSON array) with a tokenizer.json";
    c.description =
        "Reads the text from --text-file or stdin (UTF-8; bytes as given, no newline stripped)\n"
        "and prints its ids as one JSON array. No BOS/EOS is added. Exit 2 on unreadable input.";
    c.options = {{"--tokenizer", "FILE", "tokenizer.json (or a folder holding it)"},
                 {"--text-file", "F", "read the text from F instead of stdin"}};
    c.run = run_tokenize;
    return c;
}

Command detokenize_command() {
    Command c;
    c.name = "detokenize";
    c.summary = "print the text of token ids (a JSON array on stdin)";
    c.description =
        "Writes the decoded text exactly (no newline added). Exit 2 on unreadable input or an id\n"
        "the tokenizer does not have.";
    c.options = {{"--tokenizer", "FILE", "tokenizer.json (or a folder holding it)"}};
    c.run = run_detokenize;
    return c;
}

}  // namespace osprey::agent::cli
