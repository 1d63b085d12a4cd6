{{/* Names, labels and the settings derived from several values, in one place. */}}

{{- define "atelier.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "atelier.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "atelier.selectorLabels" -}}
app.kubernetes.io/name: {{ include "atelier.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end -}}

{{/* The server pods' selector as k=v,k=v (ATELIER_SERVER_POD_LABELS), keys in order. */}}
{{- define "atelier.selectorPairs" -}}
{{- $pairs := list -}}
{{- range $key, $value := include "atelier.selectorLabels" . | fromYaml -}}
{{- $pairs = append $pairs (printf "%s=%s" $key $value) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/* On everything the chart makes; the labs' namespace, Role and policy are not the server's own. */}}
{{- define "atelier.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "atelier.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: atelier
{{- end -}}

{{- define "atelier.labels" -}}
{{ include "atelier.commonLabels" . }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "atelier.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "atelier.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "atelier.platformHost" -}}
{{- default .Values.domain .Values.hosts.platform -}}
{{- end -}}

{{- define "atelier.s3Host" -}}
{{- default (printf "s3.%s" .Values.domain) .Values.hosts.s3 -}}
{{- end -}}

{{- define "atelier.appsHost" -}}
{{- default (printf "apps.%s" .Values.domain) .Values.hosts.apps -}}
{{- end -}}

{{- define "atelier.scheme" -}}
{{- if and .Values.ingress.enabled .Values.ingress.tls.enabled -}}https{{- else -}}http{{- end -}}
{{- end -}}

{{/* The Secret holding what the chart was given inline (database URL, S3 key, the made signing key). */}}
{{- define "atelier.secretName" -}}
{{- printf "%s-secrets" (include "atelier.fullname" .) -}}
{{- end -}}

{{- define "atelier.keySecretName" -}}
{{- default (printf "%s-secret-key" (include "atelier.fullname" .)) .Values.secretKey.existingSecret -}}
{{- end -}}

{{- define "atelier.databaseConfigured" -}}
{{- if or .Values.database.url .Values.database.existingSecret -}}true{{- end -}}
{{- end -}}

{{- define "atelier.claimName" -}}
{{- default (printf "%s-data" (include "atelier.fullname" .)) .Values.persistence.existingClaim -}}
{{- end -}}

{{/*
Several replicas share the learner store, the buckets and the forge's repositories: refuse a
combination where each replica would keep its own (learners would see their data come and go).
*/}}
{{- define "atelier.validate" -}}
{{- if gt (int .Values.replicaCount) 1 -}}
{{- if not (include "atelier.databaseConfigured" .) -}}
{{- fail "replicaCount > 1 needs the PostgreSQL learner store: set database.url or database.existingSecret" -}}
{{- end -}}
{{- if not .Values.s3.endpoint -}}
{{- fail "replicaCount > 1 needs an external S3 for learner buckets: set s3.endpoint (and its key)" -}}
{{- end -}}
{{- if not .Values.persistence.enabled -}}
{{- fail "replicaCount > 1 needs a data volume every replica mounts: set persistence.enabled (ReadWriteMany)" -}}
{{- end -}}
{{- if and (not .Values.persistence.existingClaim) (not (has "ReadWriteMany" .Values.persistence.accessModes)) -}}
{{- fail "replicaCount > 1 needs persistence.accessModes [ReadWriteMany]: every replica serves the forge's repositories" -}}
{{- end -}}
{{- end -}}
{{- if gt (len (include "atelier.fullname" .)) 32 -}}
{{- fail (printf "the release's full name %q is longer than 32 characters, the most ATELIER_DEPLOYMENT (the label on its labs) takes: set fullnameOverride" (include "atelier.fullname" .)) -}}
{{- end -}}
{{- if eq .Values.labs.namespace .Release.Namespace -}}
{{- fail "labs.namespace must not be the release's namespace: the lab server may delete any pod there, and the labs' default-deny policy would cut the server off" -}}
{{- end -}}
{{- range $name := list "PORT" "HOST" "ATELIER_DATA_DIR" "ATELIER_TRUST_PROXY" "ATELIER_ORIGIN" "ATELIER_S3_ORIGIN" "ATELIER_APPS_ORIGIN" "ATELIER_DRIVER" "ATELIER_KUBE_NAMESPACE" "ATELIER_LAB_IMAGE" "ATELIER_LAB_GATEWAY" "ATELIER_LAB_GATEWAY_PORT" "ATELIER_SERVER_NAMESPACE" "ATELIER_SERVER_POD_LABELS" "ATELIER_DEPLOYMENT" "ATELIER_LAB_SERVICE_ACCOUNT" "ATELIER_SECRET_KEY_FILE" "ATELIER_DATABASE_URL" "ATELIER_S3_ENDPOINT" "ATELIER_S3_REGION" "ATELIER_S3_ADMIN_ACCESS_KEY_ID" "ATELIER_S3_ADMIN_SECRET_ACCESS_KEY" "ATELIER_S3_ROLE_ARN" "ATELIER_S3_STS_ENDPOINT" -}}
{{- if hasKey $.Values.settings $name -}}
{{- fail (printf "settings.%s: the chart sets it from its own values (see values.yaml)" $name) -}}
{{- end -}}
{{- end -}}
{{- if .Values.s3.endpoint -}}
{{- if and (not .Values.s3.existingSecret) (or (not .Values.s3.accessKeyId) (not .Values.s3.secretAccessKey)) -}}
{{- fail "s3.endpoint needs the lab server's key: s3.existingSecret, or s3.accessKeyId and s3.secretAccessKey" -}}
{{- end -}}
{{- end -}}
{{- end -}}
