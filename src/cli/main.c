/* skyspool: archive the Bluesky firehose.
 *
 * One binary with git-style subcommands. main() only dispatches: each subcommand owns its
 * flags, help text and exit status (0 success, 1 runtime failure, 2 usage error).
 *
 * The common options (config.h: --log-level, --redis, --data-dir, ...) may also come before
 * the subcommand, as in `skyspool --log-level debug status`: main() moves them behind the
 * subcommand's name, where the subcommand parses them like its own. */
#include "ss_revision.h" /* SKYSPOOL_BUILD, written at build time (cmake/revision.cmake) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
            "usage: skyspool [common options] <command> [options]\n"
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

/* The common options that may precede the subcommand, all taking a value. */
static const char *const g_global_opts[] = {"--config", "--redis", "--redis-password-file", "--prefix",
                                            "--data-dir", "--maxmemory", "--log-level", "--set", NULL};

/* 2 when argv[i] is a common option with its value in argv[i+1], 1 when it is one written
 * as --name=value, 0 when it is not a common option. */
static int global_opt_width(char **argv, int i, int argc) {
    for (const char *const *o = g_global_opts; *o; o++) {
        size_t n = strlen(*o);
        if (!strncmp(argv[i], *o, n) && argv[i][n] == '=') return 1;
        if (!strcmp(argv[i], *o)) return i + 1 < argc ? 2 : -1;
    }
    return 0;
}

/* Moves the common options before the subcommand behind its name (argv is reordered in
 * place: program, command, moved options, the rest). Returns 0, or -1 for an option that is
 * not a common one or lacks its value (message printed). */
static int hoist_global_opts(int argc, char **argv) {
    int i = 1;
    while (i < argc && argv[i][0] == '-' && argv[i][1] == '-' && strcmp(argv[i], "--help") && strcmp(argv[i], "--version")) {
        int w = global_opt_width(argv, i, argc);
        if (w < 0) {
            fprintf(stderr, "skyspool: %s needs a value\n", argv[i]);
            return -1;
        }
        if (w == 0) {
            fprintf(stderr,
                    "skyspool: '%s' before the command is not a common option; put it after the command "
                    "(skyspool COMMAND %s ...)\n",
                    argv[i], argv[i]);
            return -1;
        }
        i += w;
    }
    if (i == 1 || i >= argc) return 0; /* nothing to move, or no command: main reports */
    char *cmd = argv[i];
    memmove(argv + 2, argv + 1, (size_t)(i - 1) * sizeof *argv);
    argv[1] = cmd;
    return 0;
}

int main(int argc, char **argv) {
    opterr = 0; /* getopt stays quiet: each command reports a bad option once, in its own words */
    if (hoist_global_opts(argc, argv) != 0) return 2;
    if (argc >= 2 && argv[1][0] == '-' && argv[1][1] == '-' && strcmp(argv[1], "--help") && strcmp(argv[1], "--version")) {
        fprintf(stderr, "skyspool: options but no command. Run 'skyspool --help' for the list.\n");
        return 2;
    }
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
        printf("skyspool version %s (build %s)\n", SKYSPOOL_VERSION, SKYSPOOL_BUILD);
        return 0;
    }
    for (size_t i = 0; i < g_ncommands; i++)
        if (!strcmp(cmd, g_commands[i].name)) return g_commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "skyspool: unknown command '%s'. Run 'skyspool --help' for the list.\n", cmd);
    return 2;
}
