/* See source_opts.h. */
#include "cli/source_opts.h"

#include <string.h>

#include "cli/cli_writer.h"

int ss_cli_source_s3(const char *cmd, const ss_config *cfg, const char *spec, ss_source_opts *so) {
    if (!spec || strncmp(spec, "archive:s3://", 13) != 0) return 0;
    size_t part_size;
    return ss_cli_s3_config(cmd, cfg, &so->s3, &part_size);
}

void ss_cli_source_opts(const ss_config *cfg, ss_source_opts *so) {
    so->zstd_dictionary = ss_config_get(cfg, "zstd-dictionary");
    so->wanted_collections = ss_config_get(cfg, "wanted-collections");
    /* keep-other keeps collections outside the archived types; a live source asked only for
     * the archived types (Jetstream's default request here) could never deliver one. So
     * unless the user chose the collections (this setting, or wantedCollections in the
     * URL, which the source keeps), ask for every collection. */
    if (!so->wanted_collections && ss_config_get_bool(cfg, "keep-other")) so->wanted_collections = "*";
    so->wanted_dids = ss_config_get(cfg, "wanted-dids");
    so->compress = ss_config_get_bool(cfg, "compress");
    so->verify_signatures = ss_config_get_bool(cfg, "verify-signatures");
    so->did_cache = ss_config_get(cfg, "did-cache");
    so->did_resolve = ss_config_get_bool(cfg, "did-resolve");
    so->plc_directory = ss_config_get(cfg, "plc-directory");
    so->tls_ca_file = ss_config_get(cfg, "tls-ca-file");
    so->tls_insecure = ss_config_get_bool(cfg, "tls-insecure");
    long long ms = ss_config_get_ms(cfg, "connect-timeout");
    if (ms > 0 && ms < 86400000) so->connect_timeout_ms = (int)ms;
    ms = ss_config_get_ms(cfg, "read-timeout");
    if (ms >= 0 && ms < 86400000) so->read_timeout_ms = (int)ms;
}
