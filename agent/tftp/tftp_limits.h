/* Caps on what a TFTP client controls. */
#pragma once

/* Longest file name in a request (the whole request fits a 512-byte packet). */
#define TFTP_NAME_MAX 255u
/* Transfers at once per agent; beyond this an RRQ gets ERROR 0 "busy". */
#define TFTP_SESSIONS_MAX 1024u
/* Blocks in flight per window (RFC 7440 allows 65535). */
#define TFTP_WINDOW_MAX 64u
/* Retransmissions of a window before the transfer is abandoned. */
#define TFTP_RETRIES_MAX 5u
/* Largest request datagram read on port 69. */
#define TFTP_REQUEST_MAX 1024u
