/* cli.h — shared by the files of the tendo command (not the library). */
#ifndef TENDO_CLI_H
#define TENDO_CLI_H

#include "tendo.h"

/* Prints the message and the usage; returns TENDO_EXIT_USAGE. */
int cli_usage(const char *msg, const char *arg);
int cmd_batch(int argc, char **argv);

#endif
