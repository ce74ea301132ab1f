/* fuzz/replay_main.c - a plain main() for the fuzz targets: feeds every file named on the
 * command line, or found directly inside a directory named there (in name order, hidden
 * files skipped), to LLVMFuzzerTestOneInput once. Built with the project's compiler, so
 * `make test` and `make check` replay the committed corpus without clang. A failing check
 * aborts; a file that cannot be read, or a directory with no inputs, is an error (exit 1). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz_common.h"

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    if (f == NULL || fstat(fileno(f), &sb) != 0) {
        fprintf(stderr, "replay: cannot open '%s': %s\n", path, strerror(errno));
        if (f != NULL)
            fclose(f);
        return -1;
    }
    /* Exactly the file's size, so a read past the input's end is caught under ASan. */
    size_t n = (size_t)sb.st_size;
    uint8_t *buf = malloc(n > 0 ? n : 1);
    int bad = buf == NULL || fread(buf, 1, n, f) != n;
    fclose(f);
    if (bad) {
        free(buf);
        fprintf(stderr, "replay: cannot read '%s'\n", path);
        return -1;
    }
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

static int skip_hidden(const struct dirent *d) { return d->d_name[0] != '.'; }

/* Returns the number of inputs replayed, or -1. */
static long replay_path(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "replay: '%s': %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(sb.st_mode))
        return replay_file(path) == 0 ? 1 : -1;
    struct dirent **names;
    int n = scandir(path, &names, skip_hidden, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: cannot list '%s': %s\n", path, strerror(errno));
        return -1;
    }
    long done = 0;
    for (int i = 0; i < n; i++) {
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", path, names[i]->d_name);
        if (done >= 0 && replay_file(file) == 0)
            done++;
        else
            done = -1;
        free(names[i]);
    }
    free(names);
    if (done == 0)
        fprintf(stderr, "replay: no inputs in '%s'\n", path);
    return done > 0 ? done : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    long total = 0;
    for (int i = 1; i < argc; i++) {
        long n = replay_path(argv[i]);
        if (n < 0)
            return 1;
        total += n;
    }
    const char *name = strrchr(argv[0], '/');
    printf("  REPLAY  %s: %ld inputs\n", name != NULL ? name + 1 : argv[0], total);
    return 0;
}
