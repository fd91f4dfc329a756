/* Source options from the configuration: the keys a live source reads (zstd-dictionary,
 * wanted-collections, wanted-dids, compress, verify-signatures, did-cache, tls-ca-file, tls-insecure, connect-timeout,
 * read-timeout), so every command that opens a source honours them the same way. With
 * keep-other and no wanted-collections, a live source is asked for every collection ('*'),
 * since the default request (the archived types) would never deliver an other one. */
#ifndef SS_CLI_SOURCE_OPTS_H
#define SS_CLI_SOURCE_OPTS_H

#include "cli/config.h"
#include "source/source.h"

/* Fills the live-source fields of so from cfg (after ss_config_load); leaves the others. */
void ss_cli_source_opts(const ss_config *cfg, ss_source_opts *so);
/* spec archive:s3://...: credentials and the s3-* settings into so->s3 (as for write --out
 * s3://). Returns 0 (also for any other spec), or an exit status after printing. */
int ss_cli_source_s3(const char *cmd, const ss_config *cfg, const char *spec, ss_source_opts *so);

#endif
