// detseg: the command-line tool. `detseg <group> <command> [options]`, e.g.
// `detseg eval coco --gt GT.json --dt DT.json`. This file lists the commands and dispatches;
// each command is in its own source file.

#include "cli.hpp"

#include <cstdio>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace detseg_cli {

int eval_coco_main(std::span<const std::string_view> args);
const char* eval_coco_help();
int eval_seg_main(std::span<const std::string_view> args);
const char* eval_seg_help();
int crf_main(std::span<const std::string_view> args);
const char* crf_help();

std::span<const command> commands() {
    static const command table[] = {
        {"eval", "coco", "COCO box AP/AR of a results file (pycocotools' 12 stats)",
         &eval_coco_main, &eval_coco_help},
        {"eval", "seg", "mIoU family over PNG label maps (mmseg's definition)", &eval_seg_main,
         &eval_seg_help},
        {"", "crf", "dense-CRF refinement of probabilities (pydensecrf's mean field)", &crf_main,
         &crf_help},
    };
    return table;
}

} // namespace detseg_cli

namespace {

using detseg_cli::command;
using detseg_cli::commands;

bool is_help(std::string_view a) {
    return a == "--help" || a == "-h" || a == "help";
}

void print_usage(std::FILE* out) {
    std::fprintf(out, "usage: detseg <command> [options]\n\ncommands:\n");
    for (const command& c : commands()) {
        std::string name =
            std::string(c.group) + (c.group.empty() ? "" : " ") + std::string(c.name);
        std::fprintf(out, "  %-14s %.*s\n", name.c_str(), static_cast<int>(c.summary.size()),
                     c.summary.data());
    }
    std::fprintf(out, "\n'detseg <command> --help' describes a command.\n");
}

void print_group_usage(std::FILE* out, std::string_view group) {
    std::fprintf(out, "usage: detseg %.*s <command> [options]\n\ncommands:\n",
                 static_cast<int>(group.size()), group.data());
    for (const command& c : commands())
        if (c.group == group)
            std::fprintf(out, "  %-8.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                         static_cast<int>(c.summary.size()), c.summary.data());
    std::fprintf(out, "\n'detseg %.*s <command> --help' describes a command.\n",
                 static_cast<int>(group.size()), group.data());
}

bool is_group(std::string_view name) {
    if (name.empty()) // top-level commands have an empty group
        return false;
    for (const command& c : commands())
        if (c.group == name)
            return true;
    return false;
}

int run(const command& c, std::span<const std::string_view> rest) {
    const std::string full =
        "detseg " + std::string(c.group) + (c.group.empty() ? "" : " ") + std::string(c.name);
    for (std::string_view a : rest)
        if (is_help(a)) {
            std::fputs(c.help(), stdout);
            return 0;
        }
    try {
        return c.run(rest);
    } catch (const detseg_cli::usage_error& e) {
        std::fprintf(stderr, "%s: %s\n(see '%s --help')\n", full.c_str(), e.what(), full.c_str());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: error: %s\n", full.c_str(), e.what());
        return 1;
    }
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string_view> args(argv + 1, argv + argc);
    if (args.empty()) {
        print_usage(stderr);
        return 2;
    }
    if (is_help(args[0])) {
        print_usage(stdout);
        return 0;
    }
    if (is_group(args[0])) {
        const std::string_view group = args[0];
        if (args.size() < 2 || is_help(args[1])) {
            print_group_usage(args.size() < 2 ? stderr : stdout, group);
            return args.size() < 2 ? 2 : 0;
        }
        for (const command& c : commands())
            if (c.group == group && c.name == args[1])
                return run(c, std::span(args).subspan(2));
        std::fprintf(stderr, "detseg %.*s: unknown command '%.*s'\n\n",
                     static_cast<int>(group.size()), group.data(), static_cast<int>(args[1].size()),
                     args[1].data());
        print_group_usage(stderr, group);
        return 2;
    }
    for (const command& c : commands())
        if (c.group.empty() && c.name == args[0])
            return run(c, std::span(args).subspan(1));
    std::fprintf(stderr, "detseg: unknown command '%.*s'\n\n", static_cast<int>(args[0].size()),
                 args[0].data());
    print_usage(stderr);
    return 2;
}
