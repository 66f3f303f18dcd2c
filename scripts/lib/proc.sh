# Sourced by the scripts that start local servers (pg.sh, redis.sh, kafka.sh, providers.sh):
# process checks they share.

# True while pid is a process that has not exited (a zombie awaiting its reaper has).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}
