// lode: the single binary. `lode --help` lists the subcommands.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "lode/version.h"

int main(int argc, char** argv) {
  CLI::App app{"Lode: log ingest, storage, search and alerting in one binary."};
  app.require_subcommand(1);
  int exit_code = 0;
  lode::AddServeCommand(app, &exit_code);
  lode::AddGenCommand(app, &exit_code);
  lode::AddQueryCommand(app, &exit_code);
  lode::AddAgentCommand(app, &exit_code);
  app.add_subcommand("version", "Print the version and exit.")->callback([] {
    std::cout << "lode " << lode::kVersion << "\n";
  });
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
