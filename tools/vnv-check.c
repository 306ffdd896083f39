/*
 * vnv-check - validate a vnvheap storage image offline, read-only.
 *
 *   vnv-check [-q] IMAGE
 *   vnv-check --help
 *
 * What is checked: see vnv_check_lib.c (format 5: superblock and the geometry it implies,
 * the tag reservation records, both checkpoint slots and which one open loads, its NV map,
 * records and the header of every home, the root, then the library's own vnv_open +
 * vnv_check on the image).
 * Exit status: 0 consistent, 1 problems found (a damaged image, whatever the damage),
 * 2 usage or I/O error.
 */
#include <stdio.h>
#include <string.h>

#include "vnv_check_lib.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: vnv-check [-q] IMAGE\n"
               "Validate a vnvheap storage image (docs/FORMAT.md) without modifying it.\n"
               "  -q      print only the problems and the verdict\n"
               "  --help  print this text\n"
               "Exit status: 0 consistent, 1 problems found, 2 usage or I/O error.\n");
}

int main(int argc, char **argv)
{
    int a = 1, quiet = 0;
    if (a < argc && (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (a < argc && strcmp(argv[a], "-q") == 0) {
        quiet = 1;
        a++;
    }
    if (a < argc && strcmp(argv[a], "--") == 0)
        a++;
    else if (a < argc && argv[a][0] == '-' && argv[a][1] != '\0') {
        fprintf(stderr, "vnv-check: unknown option %s\n", argv[a]);
        usage(stderr);
        return 2;
    }
    if (a + 1 != argc) {
        usage(stderr);
        return 2;
    }
    return vnv_check_file(argv[a], stdout, quiet);
}
