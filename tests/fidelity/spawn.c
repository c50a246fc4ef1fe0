/*
 * Run a program natively and print what wait4 reports for it: minor
 * faults, major faults, peak RSS in KiB.  posix_spawn (vfork-like, as
 * LACKEY.md's "spawn minflt" column) so that no fork child of this helper
 * is charged to the program; its standard output goes to /dev/null.  The
 * counts cover the program's whole tree (wait4 adds the children it
 * waited for); the peak is the largest of its processes'.
 */
#include <spawn.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>

extern char **environ;

int main(int argc, char **argv)
{
	posix_spawn_file_actions_t fa;
	struct rusage ru;
	pid_t pid;
	int status;
	if (argc < 2) {
		fprintf(stderr, "usage: spawn PROGRAM [ARGS]\n");
		return 2;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, argv[1], &fa, NULL, argv + 1, environ) != 0) {
		perror(argv[1]);
		return 1;
	}
	if (wait4(pid, &status, 0, &ru) != pid)
		return 1;
	printf("%ld %ld %ld\n", ru.ru_minflt, ru.ru_majflt, ru.ru_maxrss);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
