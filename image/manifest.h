/*
 * manifest: the JSON documents of an OCI image, parsed once into typed
 * structs: image index and manifest (OCI Image Spec v1.1, and Docker's
 * manifest list and schema 2, which have the same shape), the image
 * config, and the choice of an index entry for a platform.
 */
#ifndef LODGE_IMAGE_MANIFEST_H
#define LODGE_IMAGE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define IMAGE_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define IMAGE_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define IMAGE_MT_DOCKER_LIST \
	"application/vnd.docker.distribution.manifest.list.v2+json"
#define IMAGE_MT_DOCKER_MANIFEST \
	"application/vnd.docker.distribution.manifest.v2+json"

/* Largest manifest or index accepted (as distribution's own limit). */
#define IMAGE_MANIFEST_MAX (4u << 20)
/* Largest image config accepted. */
#define IMAGE_CONFIG_MAX (8u << 20)

/* Platform strings are borrowed (static or the caller's). */
struct image_platform {
	const char *os; /* "linux" */
	const char *architecture; /* GOARCH: "amd64", "arm64", "arm" */
	const char *variant; /* "v8", "v7" or NULL: any */
};

/* The platform of this host: linux and uname's machine as a GOARCH
 * ("x86_64" -> amd64, "aarch64" -> arm64, ...). */
void image_platform_host(struct image_platform *p);

/* A content descriptor; strings malloc'd, owned by the document. */
struct image_descriptor {
	char *media_type;
	char *digest; /* "sha256:<64 lower-case hex>" (only SHA-256) */
	uint64_t size; /* bytes */
	/* index entries: the platform, when given ("" when absent) */
	char *os, *architecture, *variant;
};

enum image_doc_kind {
	IMAGE_DOC_MANIFEST = 1, /* config + layers */
	IMAGE_DOC_INDEX, /* a list of manifests per platform */
};

struct image_manifest {
	enum image_doc_kind kind;
	char *media_type; /* the document's type, one of IMAGE_MT_* */
	struct image_descriptor config; /* manifests */
	struct image_descriptor *layers; /* manifests, bottom first */
	size_t n_layers;
	struct image_descriptor *manifests; /* indexes */
	size_t n_manifests;
};

/*
 * Parse a manifest or index.  content_type is the response's Content-Type
 * (parameters ignored) or NULL; the document's own "mediaType" is used
 * when it is absent or generic, and must agree with it when both are
 * specific.  Refuses schema 1 and unknown types, schemaVersion other than
 * 2, digests other than sha256:<64 hex>, an index with "layers" or
 * "config" (or a manifest with "manifests"), more than 500 layers
 * (overlayfs' stack limit) or 10000 index entries; the message names the
 * field.  out owns everything (image_manifest_clear); it is cleared on
 * error.
 */
int image_manifest_parse(const char *content_type, const char *body, size_t len,
    struct image_manifest *out);
void image_manifest_clear(struct image_manifest *m);

/*
 * The index entry for platform p: os and architecture equal; variant equal
 * after normalisation (arm64 "" = "v8", arm "" = "v7", amd64 "" = "v1"),
 * any variant when p->variant is NULL (the normalised default first).
 * *out points into idx.  ERR_NOTFOUND names the platforms it has.
 */
int image_index_choose(const struct image_manifest *idx,
    const struct image_platform *p, const struct image_descriptor **out);

struct image_port {
	uint16_t port;
	char proto[5]; /* "tcp", "udp" or "sctp" */
};

/* The parts of the image config (OCI image-spec config.md) a runtime
 * needs.  Arrays are malloc'd and also NULL-terminated (argv/envp ready);
 * absent fields are NULL with a zero count. */
struct image_config {
	char *os, *architecture, *variant; /* "" when absent */
	char **entrypoint;
	size_t n_entrypoint;
	char **cmd;
	size_t n_cmd;
	char **env; /* "NAME=value" */
	size_t n_env;
	char *working_dir; /* NULL when absent or "" */
	char *user; /* "uid", "uid:gid", "name" ...; NULL when absent */
	struct image_port *ports; /* ExposedPorts, sorted by port */
	size_t n_ports;
	char **diff_ids; /* rootfs.diff_ids, bottom first */
	size_t n_diff_ids;
};

/* Parse an image config; refuses wrong types, "Env" entries without '=',
 * ports outside 1-65535 or of another protocol, rootfs.type other than
 * "layers".  out is cleared on error. */
int image_config_parse(const char *body, size_t len, struct image_config *out);
void image_config_clear(struct image_config *c);

/* True when s is "sha256:" and 64 lower-case hex digits. */
int image_digest_valid(const char *s);

#endif
