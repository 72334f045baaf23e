/* Small filesystem helpers of the daemons. */
#pragma once

/* mkdir -p with mode 0700. Returns 0 or -errno. */
int bm_mkdir_p(const char *path);

/* One daemon per data folder: an exclusive flock on DIR/LOCK, held for the
 * life of the process (a second daemon would fork the history). */
/* Returns the lock's fd (keep it open), -EBUSY when another process holds
 * it, or -errno. */
int bm_lock_dir(const char *dir);
