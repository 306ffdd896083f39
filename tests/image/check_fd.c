/*
 * check_fd - vnv_check_file closes the image file on every path: each image given on the
 * command line (damaged, consistent, missing, not a file) is checked 200 times, and the
 * lowest free file descriptor must be the same afterwards (a leak of one descriptor per
 * check would move it by 200, or exhaust the limit).
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "vnv_check_lib.h"

static int lowest_free_fd(void)
{
    int fd = open("/dev/null", O_RDONLY);
    if (fd >= 0)
        close(fd);
    return fd;
}

int main(int argc, char **argv)
{
    int before = lowest_free_fd();
    if (before < 0 || argc < 2) {
        fprintf(stderr, "usage: check_fd IMAGE...\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        int rc = vnv_check_file(argv[i], NULL, 1);
        for (int n = 1; n < 200; n++)
            if (vnv_check_file(argv[i], NULL, 1) != rc) {
                fprintf(stderr, "%s: the verdict changed between runs\n", argv[i]);
                return 1;
            }
        int after = lowest_free_fd();
        printf("%s: status %d, lowest free descriptor %d -> %d\n", argv[i], rc, before, after);
        if (after != before) {
            fprintf(stderr, "%s: file descriptors leaked\n", argv[i]);
            return 1;
        }
    }
    return 0;
}
