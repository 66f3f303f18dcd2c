/* Replays fuzz inputs without libFuzzer: feeds every file of the directories given to
 * LLVMFuzzerTestOneInput, so the corpus and past crashes run under any compiler and ASan. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int by_name(const void *x, const void *y) {
  return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Runs one file; false when it cannot be read. */
static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    return 0;
  }
  size_t size = (size_t)st.st_size;
  uint8_t *data = malloc(size ? size : 1);
  size_t got = data ? fread(data, 1, size, f) : 0;
  fclose(f);
  if (!data || got != size) {
    free(data);
    return 0;
  }
  LLVMFuzzerTestOneInput(data, size);
  free(data);
  return 1;
}

/* Every regular file of dir, in name order; the count run, or -1 when dir cannot be read. */
static int replay_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  char **names = NULL;
  size_t n = 0, cap = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue; /* ".", "..", and notes such as .gitkeep */
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **grown = realloc(names, cap * sizeof *names);
      if (!grown) abort();
      names = grown;
    }
    size_t len = strlen(dir) + strlen(e->d_name) + 2;
    names[n] = malloc(len);
    if (!names[n]) abort();
    snprintf(names[n++], len, "%s/%s", dir, e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, by_name);
  int run = 0;
  for (size_t i = 0; i < n; i++) {
    if (!replay_file(names[i])) {
      fprintf(stderr, "replay: cannot read %s\n", names[i]);
      run = -1;
    } else if (run >= 0) {
      run++;
    }
    free(names[i]);
  }
  free(names);
  return run;
}

/* replay <min inputs> <dir>...: fails when a directory is unreadable or fewer inputs ran than
 * expected (a corpus that vanished must not pass silently); a crash fails it by itself. */
int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s <min inputs> <dir>...\n", argv[0]);
    return 2;
  }
  int min = atoi(argv[1]), total = 0;
  for (int i = 2; i < argc; i++) {
    int run = replay_dir(argv[i]);
    if (run < 0) {
      fprintf(stderr, "replay: cannot read the directory %s\n", argv[i]);
      return 1;
    }
    printf("replay: %d inputs from %s\n", run, argv[i]);
    total += run;
  }
  if (total < min) {
    fprintf(stderr, "replay: %d inputs, expected at least %d\n", total, min);
    return 1;
  }
  return 0;
}
