#!/bin/bash
# TF Serving readiness. Ready when, for every model in models.config, the versions it pins
# (`specific { versions: N }`, which the stable and canary labels point at) are all
# AVAILABLE, or, for a model that pins none, at least one version is.
#
# GET /v1/models/<name> answers 200 while a version is still LOADING, or ENDed after a
# failed load, so an httpGet probe would admit traffic too early: the state has to be read.
# A version LOADING beside an AVAILABLE one (a hot reload) keeps the pod ready, or every
# replica would leave the Service at once. The tensorflow/serving images have no curl or
# wget; this is bash alone (HTTP/1.0 over /dev/tcp, regex matching) and writes no file.
#
# Usage: ready.sh MODELS_CONFIG [REST_PORT]
set -u
config=$1
port=${2:-8501}

declare -A pinned=()
models=()
model=""
while read -r line; do
  if [[ $line =~ ^name:[[:space:]]*\"([^\"]+)\" ]]; then
    model=${BASH_REMATCH[1]}
    models+=("$model")
    pinned[$model]=""
  elif [[ $line =~ ^versions:[[:space:]]*([0-9]+) && -n $model ]]; then
    pinned[$model]+="${BASH_REMATCH[1]} "
  fi
done <"$config" || exit 1
if [ ${#models[@]} -eq 0 ]; then
  echo "no model named in $config"
  exit 1
fi

status_re='"version"[[:space:]]*:[[:space:]]*"([0-9]+)"[^}]*"state"[[:space:]]*:[[:space:]]*"([A-Z_]+)"'
for model in "${models[@]}"; do
  if ! exec 3<>"/dev/tcp/127.0.0.1/$port"; then
    echo "REST port $port is closed"
    exit 1
  fi
  printf 'GET /v1/models/%s HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$model" >&3
  body=$(cat <&3)
  exec 3<&-
  available=" "
  rest=$body
  while [[ $rest =~ $status_re ]]; do
    if [ "${BASH_REMATCH[2]}" = AVAILABLE ]; then
      available+="${BASH_REMATCH[1]} "
    fi
    rest=${rest#*"${BASH_REMATCH[0]}"}
  done
  if [ "$available" = " " ]; then
    echo "model $model has no version AVAILABLE"
    exit 1
  fi
  for version in ${pinned[$model]}; do
    if [[ $available != *" $version "* ]]; then
      echo "model $model: pinned version $version is not AVAILABLE"
      exit 1
    fi
  done
done
