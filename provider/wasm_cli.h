/*
 * wasm_cli: the `provider wasm` subcommands (run, serve, compile, validate, spec).
 */
#ifndef LODGE_PROVIDER_WASM_CLI_H
#define LODGE_PROVIDER_WASM_CLI_H

/* argv[0] is the subcommand ("run", "compile", "spec"); returns the
 * process exit status (for run: the module's own). */
int wasm_cli_main(int argc, char **argv);

#endif
