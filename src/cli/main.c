/* skyspool: archive the Bluesky firehose.
 *
 * One binary with git-style subcommands. main() only dispatches: each subcommand owns its
 * flags, help text and exit status (0 success, 1 runtime failure, 2 usage error). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct {
    const char *name;
    const char *summary;
    int (*fn)(int argc, char **argv);
} ss_command;

static const ss_command g_commands[] = {
#define SS_CMD(ident, name, summary) {name, summary, ss_cmd_##ident},
#include "cli/commands.def"
#undef SS_CMD
    {NULL, NULL, NULL}};
static const size_t g_ncommands = sizeof g_commands / sizeof g_commands[0] - 1;

static void print_help(FILE *f) {
    fprintf(f,
            "skyspool %s: archive the Bluesky firehose to hive-partitioned Parquet,\n"
            "buffered durably in Redis Streams.\n\n"
            "usage: skyspool <command> [options]\n"
            "       skyspool <command> --help     teaches one command, with examples\n\n"
            "commands:\n",
            SKYSPOOL_VERSION);
    for (size_t i = 0; i < g_ncommands; i++) fprintf(f, "  %-14s %s\n", g_commands[i].name, g_commands[i].summary);
    fprintf(f,
            "\nconfiguration, highest precedence first:\n"
            "  1. command-line flags            (--redis URL, --prefix P, ...)\n"
            "  2. environment variables         (SKYSPOOL_REDIS_URL, SKYSPOOL_PREFIX, ...)\n"
            "  3. a redis.conf-style file       (--config FILE or SKYSPOOL_CONFIG; lines of 'key value')\n"
            "  4. built-in defaults\n\n"
            "Without --redis, skyspool starts (or reuses) a private redis-server in its data\n"
            "directory (./skyspool-data by default). See README.md and docs/DESIGN.md.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        if (!strcmp(cmd, "help") && argc > 2) {
            char help_flag[] = "--help";
            char *sub[] = {argv[2], help_flag, NULL};
            for (size_t i = 0; i < g_ncommands; i++)
                if (!strcmp(argv[2], g_commands[i].name)) return g_commands[i].fn(2, sub);
        }
        print_help(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("skyspool version %s\n", SKYSPOOL_VERSION);
        return 0;
    }
    for (size_t i = 0; i < g_ncommands; i++)
        if (!strcmp(cmd, g_commands[i].name)) return g_commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "skyspool: unknown command '%s'. Run 'skyspool --help' for the list.\n", cmd);
    return 2;
}
