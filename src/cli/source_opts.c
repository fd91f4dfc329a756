/* See source_opts.h. */
#include "cli/source_opts.h"

void ss_cli_source_opts(const ss_config *cfg, ss_source_opts *so) {
    so->zstd_dictionary = ss_config_get(cfg, "zstd-dictionary");
    so->wanted_collections = ss_config_get(cfg, "wanted-collections");
    so->compress = ss_config_get_bool(cfg, "compress");
    so->tls_ca_file = ss_config_get(cfg, "tls-ca-file");
    so->tls_insecure = ss_config_get_bool(cfg, "tls-insecure");
    long long ms = ss_config_get_ms(cfg, "connect-timeout");
    if (ms > 0 && ms < 86400000) so->connect_timeout_ms = (int)ms;
    ms = ss_config_get_ms(cfg, "read-timeout");
    if (ms >= 0 && ms < 86400000) so->read_timeout_ms = (int)ms;
}
