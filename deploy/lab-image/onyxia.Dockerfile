# syntax=docker/dockerfile:1
#
# A lab image made from one of the datalab's own (inseefrlab/onyxia-jupyter-python,
# onyxia-vscode-python, …), for a school that prefers the images its learners meet on the datalab:
#
#   docker build -f deploy/lab-image/onyxia.Dockerfile \
#     --build-arg BASE=inseefrlab/onyxia-vscode-python:<tag> -t registry.ecole.example/atelier/lab-onyxia:<tag> .
#
# NOT BUILT HERE: no container engine runs on the machines this project is developed and tested
# on; this file is kept correct by reading it against the datalab images' recipes
# (InseeFrLab/images-datascience) and server/services/catalog.ts. Build it, then open a terminal,
# JupyterLab and VS Code in a lab before relying on it.
#
# What those images already have, and the checks need: the user onyxia (uid 1000, home
# /home/onyxia, workspace /home/onyxia/work), bash, git, python3 (the notebook check runs it),
# and MinIO's own mc. What they lack: the paths the lab server starts services from. The
# Kubernetes driver gives every lab the same PATH as the local driver (/opt/atelier/python/bin
# first, then /opt/atelier/bin, /usr/local/bin, /usr/bin, /bin), not the image's, and runs
# JupyterLab as /opt/atelier/python/bin/jupyter-lab and VS Code as code-server's own Node on its
# entry point under /opt/atelier/code-server. Links put the image's programs there; nothing is
# copied or reinstalled, so the image's versions are the ones learners get.
ARG BASE=inseefrlab/onyxia-vscode-python:latest
FROM ${BASE}
USER root
# The image's Python (its bin/ holds jupyter-lab where the image has JupyterLab) becomes the
# lab's first PATH entry; code-server's Debian package keeps its Node and entry point under
# /usr/lib/code-server.
RUN set -eu; \
    python_bin="$(dirname "$(command -v python3)")"; \
    mkdir -p /opt/atelier/python; \
    ln -s "$python_bin" /opt/atelier/python/bin; \
    if [ -d /usr/lib/code-server ]; then \
      mkdir -p /opt/atelier/code-server/node_modules/node/bin /opt/atelier/code-server/node_modules/code-server; \
      ln -s /usr/lib/code-server/lib/node /opt/atelier/code-server/node_modules/node/bin/node; \
      ln -s /usr/lib/code-server/out /opt/atelier/code-server/node_modules/code-server/out; \
    fi; \
    mkdir -p /run/atelier/services && chown -R 1000 /run/atelier
USER 1000
