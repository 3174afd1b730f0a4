// Fuzzes the chat renderer with arbitrary JSON: it either renders or throws ChatFormatError (any
// other exception or a sanitizer report is a bug), and incremental rendering never fails where full
// rendering succeeds.
#include <cstdint>
#include <string>

#include "model/chat/chat_encoder.hpp"

using nlohmann::ordered_json;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) {
        return 0;
    }
    osprey::model::ChatOptions options;
    options.mode = (data[0] & 1) != 0 ? osprey::model::ThinkingMode::thinking
                                      : osprey::model::ThinkingMode::chat;
    options.effort = (data[0] & 2) != 0 ? osprey::model::ReasoningEffort::max
                                        : osprey::model::ReasoningEffort::none;
    options.drop_thinking = (data[0] & 4) == 0;
    const auto json = ordered_json::parse(data + 1, data + size, nullptr, false);
    if (json.is_discarded()) {
        return 0;
    }
    try {
        const auto messages = osprey::model::messages_from_request(json);
        const std::string full = osprey::model::render_chat(messages, options);
        const std::size_t cut = data[0] >> 3;
        if (messages.is_array() && cut < messages.size()) {
            ordered_json context = ordered_json::array();
            ordered_json tail = ordered_json::array();
            for (std::size_t i = 0; i < messages.size(); ++i) {
                (i < cut ? context : tail).push_back(messages[i]);
            }
            (void)osprey::model::render_chat(context, options);
            (void)osprey::model::render_chat_suffix(context, tail, options);
        }
    } catch (const osprey::model::ChatFormatError&) {
    }
    return 0;
}
