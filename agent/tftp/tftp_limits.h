/* Caps on what a TFTP client controls. */
#pragma once

/* Longest file name in a request (the whole request fits a 512-byte packet). */
#define TFTP_NAME_MAX 255u
/* Defaults of the configuration (tftp_max_transfers, tftp_max_per_client,
 * tftp_timeout_max). Transfers at once per agent; beyond this an RRQ gets
 * ERROR 0 "busy". */
#define TFTP_SESSIONS_MAX 1024u
/* Transfers at once from one client address ("busy" beyond): one host
 * cannot take the rack's slots. A firmware fetches one file at a time. */
#define TFTP_PER_CLIENT_MAX 8u
/* The largest RFC 2349 timeout option granted, in seconds (a larger one
 * is left out of the OACK and the server's own timers apply). */
#define TFTP_TIMEOUT_MAX_S 5u
/* Blocks in flight per window (RFC 7440 allows 65535). */
#define TFTP_WINDOW_MAX 64u
/* Retransmissions of a window before the transfer is abandoned. */
#define TFTP_RETRIES_MAX 5u
/* Largest request datagram read on port 69. */
#define TFTP_REQUEST_MAX 1024u
