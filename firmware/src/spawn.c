/*
 * spawn: starting programs, as shells and test harnesses do. One line per check.
 *
 *   spawn     posix_spawn of this program (glibc: clone(CLONE_VM|CLONE_VFORK) on a stack of its
 *             own, then execve in the child), the child's argument printed by the child, its
 *             exit status collected with waitpid
 *   missing   posix_spawn of a path that does not exist: the child's execve fails with ENOENT,
 *             which posix_spawn reports to the parent (the child exits 127)
 *   fork+exec fork, execve of this program in the child with an environment variable, exit
 *             status through wait4
 *   script    execve of a "#!" script whose interpreter is this program: the interpreter gets
 *             the script's path as its argument
 *
 * The program re-executes itself from /proc/self/exe, so it needs an execve that can run an
 * arm64 ELF: qemu-user without binfmt_misc cannot, so its reference is Linux's behaviour.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int child_status(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		die("waitpid: %s", strerror(errno));
	if (!WIFEXITED(st))
		die("child %d did not exit normally (status 0x%x)", pid, st);
	return WEXITSTATUS(st);
}

int main(int argc, char **argv)
{
	program_init("spawn", "spawn");
	if (argc == 3 && strcmp(argv[1], "child") == 0) {
		const char *v = getenv("SPAWN_VALUE");
		out("child: argument %s, SPAWN_VALUE=%s\n", argv[2], v ? v : "(unset)");
		return 3;
	}
	if (argc == 2 && strncmp(argv[1], "/tmp/", 5) == 0) {
		out("interpreter: script %s\n", argv[1]);
		return 4;
	}
	if (argc != 1)
		usage_error("no arguments expected");

	pid_t pid;
	char *args[] = { "spawn", "child", "spawned", NULL };
	int r = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, environ);
	if (r != 0)
		die("posix_spawn: %s", strerror(r));
	out("spawn: child exit %d\n", child_status(pid));

	char *missing[] = { "nothing", NULL };
	r = posix_spawn(&pid, "/no/such/program", NULL, NULL, missing, environ);
	out("missing: posix_spawn returns %s\n", r == ENOENT ? "ENOENT" : strerror(r));

	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		char *env[] = { "SPAWN_VALUE=42", NULL };
		char *a[] = { "spawn", "child", "forked", NULL };
		execve("/proc/self/exe", a, env);
		_exit(99);
	}
	out("fork+exec: child exit %d\n", child_status(pid));

	char self[256];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		die("readlink /proc/self/exe: %s", strerror(errno));
	self[n] = 0;
	const char *script = "/tmp/spawn-script";
	int fd = open(script, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (fd < 0)
		die("open %s: %s", script, strerror(errno));
	char line[300];
	int len = snprintf(line, sizeof line, "#!%s\necho never run\n", self);
	if (write(fd, line, len) != len || close(fd) != 0)
		die("writing %s: %s", script, strerror(errno));
	pid = fork();
	if (pid == 0) {
		char *a[] = { (char *)script, NULL };
		execve(script, a, environ);
		_exit(98);
	}
	out("script: child exit %d\n", child_status(pid));
	unlink(script);
	return 0;
}
