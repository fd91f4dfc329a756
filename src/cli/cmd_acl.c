/* `skyspool acl`: the ACL SETUSER lines that give each skyspool job its own least-privilege
 * Redis user (buffer/acl.h has the table), printed for review or applied with --apply.
 *
 * Passwords never appear in the output: with --password-dir the users get "#<sha256>" of
 * DIR/ROLE.password (created, random, 0600 when missing), so the printed lines can be kept
 * in a repository or an aclfile; without it the users get no password at all and cannot log
 * in until one is set. --apply sends the same lines over one admin connection (--redis URL
 * with an admin user); it refuses the embedded server, which configures its users itself. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "buffer/acl.h"
#include "buffer/target.h"
#include "cli/cli.h"
#include "cli/cli_redis.h"
#include "cli/config.h"

#define ACL_PASSWORD_BYTES 32

static void usage(FILE *f) {
    fprintf(f,
            "usage: skyspool acl [--password-dir DIR] [--apply --redis URL] [--prefix P] [ROLE...]\n\n"
            "Prints one ACL SETUSER line per role, each user limited to the commands and keys its job\n"
            "needs (Redis >= 7.0). ROLEs (default: all five):\n");
    for (int r = 0; r < SS_ACL_EXTERNAL_ROLES; r++)
        fprintf(f, "  %-8s %-18s %s\n", ss_acl_role_name((ss_acl_role)r), ss_acl_user((ss_acl_role)r),
                ss_acl_role_help((ss_acl_role)r));
    fprintf(f,
            "\noptions:\n"
            "  --password-dir DIR  each user's password is DIR/ROLE.password (created, random, 0600 when\n"
            "                      missing); the lines carry only its SHA-256 (#hash). Without it the users\n"
            "                      have no password and cannot log in until you set one.\n"
            "  --apply             run the lines on --redis URL (an admin user: ACL SETUSER needs @admin)\n"
            "                      instead of printing them; persist them with ACL SAVE or CONFIG REWRITE\n"
            "  -h, --help          this help\n\n"
            "%s\n"
            "Then give each job its user: --redis redis://skyspool-ingest@HOST:6379 with\n"
            "--redis-password-file DIR/ingest.password (a password file may be 0640, e.g. root:skyspool),\n"
            "and the exporter -redis.user skyspool-monitor. The embedded server (no --redis) has these\n"
            "users already, with the default user off.\n\n"
            "examples:\n"
            "  skyspool acl --password-dir /etc/skyspool/redis      # review [host]\n"
            "  skyspool acl --password-dir /etc/skyspool/redis --apply \\\n"
            "      --redis redis://admin@127.0.0.1:6379 --redis-password-file /etc/skyspool/admin.password   # [host]\n"
            "  skyspool acl ingest write | redis-cli --user admin --askpass   # no passwords yet [host]\n",
            ss_config_common_help);
}

/* DIR/ROLE.password: read it (ss_redis_password_file_read's checks), or create it. */
static int role_password(const char *dir, ss_acl_role r, char *pw, size_t pwlen, char *err, size_t errlen) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s.password", dir, ss_acl_role_name(r)) >= (int)sizeof path) {
        snprintf(err, errlen, "--password-dir path too long");
        return -1;
    }
    if (access(path, F_OK) == 0) return ss_redis_password_file_read(path, pw, pwlen, err, errlen);
    unsigned char rnd[ACL_PASSWORD_BYTES];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd || pwlen < 2 * sizeof rnd + 1) {
        snprintf(err, errlen, "getrandom: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < sizeof rnd; i++) snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %.900s: %s", path, strerror(errno));
        return -1;
    }
    char line[2 * ACL_PASSWORD_BYTES + 2];
    int n = snprintf(line, sizeof line, "%s\n", pw);
    int ok = write(fd, line, (size_t)n) == n && fsync(fd) == 0;
    if (close(fd) != 0 || !ok) {
        snprintf(err, errlen, "cannot write %.900s: %s", path, strerror(errno));
        unlink(path);
        return -1;
    }
    fprintf(stderr, "skyspool acl: created %s (0600)\n", path);
    return 0;
}

/* One ACL SETUSER line for redis-cli: tokens with a space are double-quoted. */
static void print_line(const char *user, const char *toks, int n) {
    printf("ACL SETUSER %s", user);
    for (int i = 0; i < n; i++, toks += strlen(toks) + 1) {
        if (strchr(toks, ' ')) printf(" \"%s\"", toks);
        else printf(" %s", toks);
    }
    printf("\n");
}

int ss_cmd_acl(int argc, char **argv) {
    enum { O_PWDIR = 1, O_APPLY };
    static const struct option opts[] = {SS_CONFIG_LONG_OPTIONS,
                                         {"password-dir", required_argument, 0, O_PWDIR},
                                         {"apply", no_argument, 0, O_APPLY},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    ss_config *cfg = ss_config_new();
    if (!cfg) return ss_cmd_fail("acl", "out of memory");
    const char *pwdir = NULL;
    int apply = 0, c, rc = 2;
    char err[1024];
    int want[SS_ACL__COUNT] = {0}, nwant = 0;
    redisContext *rx = NULL;
    ss_redis_target *t = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        int h = ss_config_handle_opt(cfg, c, optarg, err, sizeof err);
        if (h < 0) {
            rc = ss_usage_error("acl", "%s", err);
            goto out;
        }
        if (h == 1) continue;
        switch (c) {
        case 'h': usage(stdout); rc = 0; goto out;
        case O_PWDIR: pwdir = optarg; break;
        case O_APPLY: apply = 1; break;
        default: rc = ss_usage_error("acl", "unknown or incomplete option '%s'", argv[optind - 1]); goto out;
        }
    }
    for (int i = optind; i < argc; i++) {
        int r = ss_acl_role_parse(argv[i]);
        if (r < 0 || r >= SS_ACL_EXTERNAL_ROLES) {
            rc = ss_usage_error("acl", "unknown role '%s': use ingest, write, status, monitor or check", argv[i]);
            goto out;
        }
        if (!want[r]) nwant++;
        want[r] = 1;
    }
    if (!nwant)
        for (int r = 0; r < SS_ACL_EXTERNAL_ROLES; r++) want[r] = 1;
    if (ss_config_load(cfg, err, sizeof err) != 0) {
        rc = ss_usage_error("acl", "%s", err);
        goto out;
    }
    if (ss_cli_apply_log_level("acl", cfg) != 0) goto out;
    const char *url = ss_config_get(cfg, "redis-url");
    if (apply && (!url || !*url)) {
        rc = ss_usage_error("acl", "--apply needs --redis URL (an admin user of that Redis); the embedded "
                                   "server configures these users itself");
        goto out;
    }
    if (apply && !pwdir) {
        rc = ss_usage_error("acl", "--apply needs --password-dir DIR: users without a password could not log in");
        goto out;
    }
    if (apply) {
        t = ss_cli_open_target("acl", cfg, &rc);
        if (!t) {
            goto out;
        }
        rx = ss_redis_target_connect(t, err, sizeof err, NULL);
        if (!rx) {
            rc = ss_cmd_fail("acl", "%s", err);
            goto out;
        }
    } else if (!pwdir) {
        fprintf(stderr, "skyspool acl: no --password-dir: these users get no password (set one with "
                        "ACL SETUSER NAME >PASSWORD, or rerun with --password-dir)\n");
    }
    const char *prefix = ss_config_get(cfg, "prefix");
    int applied = 0;
    for (int r = 0; r < SS_ACL_EXTERNAL_ROLES; r++) {
        if (!want[r]) continue;
        char pw[SS_REDIS_PASSWORD_MAX], hash[65];
        const char *hp = NULL;
        if (pwdir) {
            if (role_password(pwdir, (ss_acl_role)r, pw, sizeof pw, err, sizeof err) != 0) {
                rc = ss_cmd_fail("acl", "%s", err);
                goto out;
            }
            ss_acl_hash_password(pw, hash);
            memset(pw, 0, sizeof pw);
            hp = hash;
        }
        ss_buf toks;
        ss_buf_init(&toks);
        int n = ss_acl_rules((ss_acl_role)r, prefix, hp, 0, &toks, err, sizeof err);
        if (n < 0) {
            ss_buf_free(&toks);
            rc = ss_usage_error("acl", "%s", err);
            goto out;
        }
        if (!apply) {
            print_line(ss_acl_user((ss_acl_role)r), toks.data, n);
        } else {
            const char *av[SS_ACL_MAX_ARGS + 3];
            int ac = 0;
            av[ac++] = "ACL";
            av[ac++] = "SETUSER";
            av[ac++] = ss_acl_user((ss_acl_role)r);
            const char *p = toks.data;
            for (int i = 0; i < n && ac < SS_ACL_MAX_ARGS + 3; i++, p += strlen(p) + 1) av[ac++] = p;
            redisReply *x = redisCommandArgv(rx, ac, av, NULL);
            if (!x || x->type == REDIS_REPLY_ERROR) {
                ss_err_class cls = ss_redis_describe_error(rx, x, err, sizeof err);
                if (x) freeReplyObject(x);
                ss_buf_free(&toks);
                /* a rule the server did not understand (a plain ERR: protocol) on a server older
                 * than 7.0 is the version's fault; its INFO says which one it is */
                char ver[32] = "";
                if (cls == SS_ERR_PROTOCOL) {
                    char ierr[256];
                    char *info = ss_redis_info(rx, "server", ierr, sizeof ierr);
                    if (info) ss_redis_info_str(info, "redis_version", ver, sizeof ver);
                    free(info);
                }
                int old = ver[0] && atoi(ver) < 7;
                rc = ss_cmd_error("acl", cls, "ACL SETUSER %s on %s failed: %s%s", ss_acl_user((ss_acl_role)r),
                                  ss_redis_target_describe(t), err, old ? " (the rules need Redis >= 7.0)" : "");
                goto out;
            }
            freeReplyObject(x);
            applied++;
        }
        ss_buf_free(&toks);
    }
    if (apply)
        fprintf(stderr,
                "skyspool acl: %d user%s set on %s; they last until a restart unless you run ACL SAVE (aclfile) "
                "or CONFIG REWRITE\n",
                applied, applied == 1 ? "" : "s", ss_redis_target_describe(t));
    fflush(stdout);
    rc = 0;
out:
    if (rx) redisFree(rx);
    if (t) ss_redis_target_close(t);
    ss_config_free(cfg);
    return rc;
}
