/*
 * fakexen.c - preloaded under Xen 4.17's own xenstore daemons (cxenstored,
 * oxenstored from Debian's xen-utils-4.17) so that they run on a machine
 * without a hypervisor and serve clients on their unix socket. Built and
 * used by scripts/setup-peers.sh and test/support/anchor_kit.ts.
 *
 * Why: at start-up both daemons open libxenctrl/libxengnttab/libxenevtchn
 * handles, bind VIRQ_DOM_EXC, read dom0's event-channel port from
 * /proc/xen/xsd_port and map dom0's ring from /proc/xen/xsd_kva; without
 * /dev/xen and xenfs they exit. (cxenstored -D skips domain set-up but 4.17
 * then crashes on the first request: the tree is created when dom0 is.)
 * Only those calls are answered here; the rest of each library is the real
 * one and never reached.
 *
 * What each answer is:
 *   xc_domain_getinfo{,list}  every domid below DOMID_FIRST_RESERVED exists
 *                             and runs, unless $FAKEXEN_DIR/dead-<domid>
 *                             exists (then it is dying).
 *   xc_map_foreign_range,     a guest's ring page is the file
 *   xengnttab_map_grant_ref   $FAKEXEN_DIR/ring-<domid> (4096 bytes, struct
 *                             xenstore_domain_interface), mapped shared.
 *   xenevtchn                 the "event channel" is the FIFO
 *                             $FAKEXEN_DIR/evtchn: a test writes a 4-byte
 *                             port (host order) to kick the daemon; guest d
 *                             is bound on port 1000 + d, VIRQ_DOM_EXC on
 *                             port 1. notify() is dropped: tests poll.
 *   open("/proc/xen/xsd_port") a memfd holding "1" (no newline: oxenstored
 *                             parses it with int_of_string);
 *   open("/proc/xen/xsd_kva")  a zeroed 4 KiB memfd (dom0 uses the socket).
 *   setrlimit(NOFILE)         clamped to the hard limit (oxenstored asks for
 *                             fs.nr_open, refused without CAP_SYS_RESOURCE).
 *
 * A preloaded object has no symbol versions, so these definitions bind the
 * daemons' versioned references (VERS_1.0, ...).
 */
#define _GNU_SOURCE
#define XC_WANT_COMPAT_MAP_FOREIGN_API 1
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>

enum {
    PAGE = 4096,
    VIRQ_PORT = 1,          /* where VIRQ_DOM_EXC is "bound" */
    GUEST_PORT_BASE = 1000, /* guest d's interdomain port */
    FIRST_RESERVED = 0x7FF0 /* DOMID_FIRST_RESERVED */
};

/* $FAKEXEN_DIR/<name><domid>, or "" when FAKEXEN_DIR is unset */
static const char *fx_path(char *buf, size_t len, const char *name, int domid)
{
    const char *d = getenv("FAKEXEN_DIR");

    if (!d || !*d) {
        fprintf(stderr, "fakexen: FAKEXEN_DIR is not set\n");
        return "";
    }
    if (domid < 0)
        snprintf(buf, len, "%s/%s", d, name);
    else
        snprintf(buf, len, "%s/%s%d", d, name, domid);
    return buf;
}

/* The syscall, not open(): ours below would intercept libc's own use. */
static int sys_open(const char *p, int flags, mode_t mode)
{
    return (int)syscall(SYS_openat, AT_FDCWD, p, flags, mode);
}

static void *ring_of(uint32_t domid)
{
    char buf[4096];
    const char *p = fx_path(buf, sizeof(buf), "ring-", (int)domid);
    void *m;
    int fd;

    if (!*p || (fd = sys_open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
        return NULL;
    m = ftruncate(fd, PAGE) == 0 ? mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    close(fd);
    return m == MAP_FAILED ? NULL : m;
}

static int dying(uint32_t domid)
{
    char buf[4096];
    const char *p = fx_path(buf, sizeof(buf), "dead-", (int)domid);

    return *p && access(p, F_OK) == 0;
}

/* libxenctrl */
xc_interface *xc_interface_open(xentoollog_logger *l, xentoollog_logger *dl, unsigned f)
{
    return (xc_interface *)calloc(1, PAGE);
}

int xc_interface_close(xc_interface *x)
{
    free(x);
    return 0;
}

int xc_domain_getinfo(xc_interface *x, uint32_t first, unsigned int max, xc_dominfo_t *info)
{
    if (first >= FIRST_RESERVED || !max)
        return 0;
    memset(info, 0, sizeof(*info));
    info->domid = first;
    info->dying = dying(first);
    info->running = !info->dying;
    return 1;
}

int xc_domain_getinfolist(xc_interface *x, uint32_t first, unsigned int max, xc_domaininfo_t *info)
{
    if (first >= FIRST_RESERVED || !max)
        return 0;
    memset(info, 0, sizeof(*info));
    info->domain = first;
    info->flags = dying(first) ? XEN_DOMINF_dying : XEN_DOMINF_running;
    return 1;
}

void *xc_map_foreign_range(xc_interface *x, uint32_t dom, int size, int prot, unsigned long mfn)
{
    return ring_of(dom);
}

/* libxengnttab */
xengnttab_handle *xengnttab_open(xentoollog_logger *l, unsigned f)
{
    return (xengnttab_handle *)calloc(1, 64);
}

int xengnttab_close(xengnttab_handle *h)
{
    free(h);
    return 0;
}

int xengnttab_set_max_grants(xengnttab_handle *h, uint32_t n)
{
    return 0;
}

void *xengnttab_map_grant_ref(xengnttab_handle *h, uint32_t domid, uint32_t ref, int prot)
{
    return ring_of(domid);
}

int xengnttab_unmap(xengnttab_handle *h, void *addr, uint32_t count)
{
    return munmap(addr, (size_t)PAGE * count);
}

/* libxenevtchn: the handle is the FIFO's fd, opened read-write so that it
 * never sees EOF when no writer is connected. */
struct evh {
    int fd;
};

xenevtchn_handle *xenevtchn_open(xentoollog_logger *l, unsigned f)
{
    char buf[4096];
    const char *p = fx_path(buf, sizeof(buf), "evtchn", -1);
    struct evh *e;
    int fd;

    if (!*p)
        return NULL;
    unlink(p);
    if (mkfifo(p, 0600) != 0) {
        fprintf(stderr, "fakexen: mkfifo %s: %s\n", p, strerror(errno));
        return NULL;
    }
    /* no O_CLOEXEC: a live-update exec keeps this fd */
    fd = sys_open(p, O_RDWR | O_NONBLOCK, 0);
    if (fd < 0 || !(e = malloc(sizeof(*e)))) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    e->fd = fd;
    return (xenevtchn_handle *)e;
}

xenevtchn_handle *xenevtchn_fdopen(xentoollog_logger *l, int fd, unsigned f)
{
    struct evh *e = malloc(sizeof(*e));

    if (e)
        e->fd = fd;
    return (xenevtchn_handle *)e;
}

int xenevtchn_close(xenevtchn_handle *h)
{
    if (h) {
        close(((struct evh *)h)->fd);
        free(h);
    }
    return 0;
}

int xenevtchn_fd(xenevtchn_handle *h)
{
    return ((struct evh *)h)->fd;
}

int xenevtchn_notify(xenevtchn_handle *h, evtchn_port_t port)
{
    return 0;
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *h, unsigned int virq)
{
    return VIRQ_PORT;
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *h, uint32_t domid, evtchn_port_t remote)
{
    return GUEST_PORT_BASE + domid;
}

int xenevtchn_unbind(xenevtchn_handle *h, evtchn_port_t port)
{
    return 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *h)
{
    uint32_t port;

    /* a 4-byte write to a FIFO is atomic: a short read means nothing pending */
    return read(((struct evh *)h)->fd, &port, sizeof(port)) == sizeof(port) ? (int)port : 0;
}

int xenevtchn_unmask(xenevtchn_handle *h, evtchn_port_t port)
{
    return 0;
}

/* libc */
static int memfd_page(const char *name, const char *text, size_t size)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    size_t n = text ? strlen(text) : 0;

    if (fd >= 0 && (ftruncate(fd, size) != 0 || (n && pwrite(fd, text, n, 0) != (ssize_t)n))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

int open(const char *p, int flags, ...)
{
    static int (*next)(const char *, int, ...);
    mode_t mode = 0;

    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    if (strcmp(p, "/proc/xen/xsd_port") == 0)
        return memfd_page("xsd_port", "1", 1);
    if (strcmp(p, "/proc/xen/xsd_kva") == 0)
        return memfd_page("xsd_kva", NULL, PAGE);
    if (!next)
        next = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    return next(p, flags, mode);
}

int open64(const char *p, int flags, ...) __attribute__((alias("open")));

int setrlimit(__rlimit_resource_t res, const struct rlimit *want)
{
    static int (*next)(__rlimit_resource_t, const struct rlimit *);
    struct rlimit hard, r = *want;

    if (!next)
        next = (int (*)(__rlimit_resource_t, const struct rlimit *))dlsym(RTLD_NEXT, "setrlimit");
    if (res == RLIMIT_NOFILE && getrlimit(res, &hard) == 0) {
        if (r.rlim_max > hard.rlim_max)
            r.rlim_max = hard.rlim_max;
        if (r.rlim_cur > r.rlim_max)
            r.rlim_cur = r.rlim_max;
    }
    return next(res, &r);
}
