#include <errno.h>
#include <nng/nng.h>

#include "bm/rpc.h"

int
bm_rpc_errno(int e)
{
	switch (e) {
	case 0: return 0;
	case NNG_ETIMEDOUT: return -ETIMEDOUT;
	case NNG_ECONNREFUSED: return -ECONNREFUSED;
	case NNG_ECLOSED: return -ESHUTDOWN;
	case NNG_ENOMEM: return -ENOMEM;
	case NNG_EINVAL:
	case NNG_EADDRINVAL:
	case NNG_ENOTSUP: return -EINVAL;
	case NNG_EADDRINUSE: return -EADDRINUSE;
	case NNG_EMSGSIZE: return -EMSGSIZE;
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
	case NNG_ECONNABORTED: return -ECONNRESET;
	case NNG_ECANCELED: return -ECANCELED;
	case NNG_EUNREACHABLE: return -EHOSTUNREACH;
	case NNG_EPERM: return -EPERM;
	case NNG_EPEERAUTH:
	case NNG_ECRYPTO: return -EACCES; /* a TLS handshake refused, one side or the other */
	default: return -EIO;
	}
}
