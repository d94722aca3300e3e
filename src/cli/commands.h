// The `lode` subcommands. Each Add*Command registers a subcommand on the app;
// its callback stores the process exit code in *exit_code.
#pragma once

#include <CLI/CLI.hpp>

namespace lode {

void AddServeCommand(CLI::App& app, int* exit_code);
void AddGenCommand(CLI::App& app, int* exit_code);
void AddQueryCommand(CLI::App& app, int* exit_code);
void AddAgentCommand(CLI::App& app, int* exit_code);

}  // namespace lode
