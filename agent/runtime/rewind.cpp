#include "agent/runtime/rewind.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "agent/runtime/resume.hpp"

namespace osprey::agent {

RewindPlan plan_rewind(memory::Database& db, const std::string& session_id, std::int64_t to_step) {
    const ResumeState now = read_resume_state(db, session_id);
    if (to_step < 0 || to_step >= now.steps) {
        throw std::runtime_error("session " + session_id + " is at step " +
                                 std::to_string(now.steps) + ": rewind to a step from 0 to " +
                                 std::to_string(now.steps - 1));
    }
    (void)read_fork_state(db, session_id, to_step);  // the step must have finished
    RewindPlan plan;
    plan.session_id = session_id;
    plan.to_step = to_step;
    plan.from_step = now.steps;
    plan.files = memory::FileHistory(db).plan_rewind(session_id, to_step + 1);
    return plan;
}

std::string describe(const RewindPlan& plan, const std::filesystem::path& workspace) {
    std::string text;
    for (const auto& f : plan.files) {
        std::filesystem::path shown = f.path;
        const auto rel = f.path.lexically_relative(workspace);
        if (!rel.empty() && *rel.begin() != "..") {
            shown = rel;
        }
        text += (f.existed ? "restore " : "delete ") + shown.string() + "\n";
    }
    return text;
}

void apply_rewind(const RewindPlan& plan, memory::Journal& journal) {
    memory::FileHistory::apply(plan.files);
    const nlohmann::json record = {{"type", "agent.rewind"},
                                   {"to_step", plan.to_step},
                                   {"from_step", plan.from_step},
                                   {"files", plan.files.size()}};
    journal.append("agent.rewind", record.dump(), plan.to_step, memory::Durability::commit_now);
}

}  // namespace osprey::agent
