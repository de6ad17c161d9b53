{{/* Names and labels. */}}
{{- define "cowin-kit.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cowin-kit.fullname" -}}
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

{{- define "cowin-kit.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "cowin-kit.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with omit .Values.commonLabels "helm.sh/chart" "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/version" "app.kubernetes.io/managed-by" "app.kubernetes.io/component" }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of a pod template: the chart's, commonLabels, then the component's podLabels
(never overriding the selector): include "cowin-kit.podLabels" (list . "web" .Values.web.podLabels) */}}
{{- define "cowin-kit.podLabels" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- $extra := omit (merge (dict) (index . 2 | default dict) $root.Values.commonLabels) "helm.sh/chart" "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/version" "app.kubernetes.io/managed-by" "app.kubernetes.io/component" -}}
{{ include "cowin-kit.selector" (list $root $component) }}
{{- with $extra }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: include "cowin-kit.selector" (list . "web") */}}
{{- define "cowin-kit.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "cowin-kit.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* An image reference: [global.imageRegistry/]repository, then @digest if given, else
:tag. include "cowin-kit.imageRef" (list . .Values.image defaultTag) */}}
{{- define "cowin-kit.imageRef" -}}
{{- $root := index . 0 -}}
{{- $image := index . 1 -}}
{{- $repository := $image.repository -}}
{{- with ($root.Values.global | default dict).imageRegistry -}}
{{- $repository = printf "%s/%s" (trimSuffix "/" .) $repository -}}
{{- end -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (default (index . 2) $image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "cowin-kit.image" -}}
{{- include "cowin-kit.imageRef" (list . .Values.image .Chart.AppVersion) -}}
{{- end -}}

{{- define "cowin-kit.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cowin-kit.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "cowin-kit.secretName" -}}
{{- default (printf "%s-secrets" (include "cowin-kit.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "cowin-kit.settingsName" -}}
{{- printf "%s-settings" (include "cowin-kit.fullname" .) -}}
{{- end -}}

{{/* Where DATABASE_URL is read: the database operator's Secret (database.existingSecret,
e.g. CloudNativePG's <cluster>-app with key uri) or the release's. */}}
{{- define "cowin-kit.databaseUrlRef" -}}
{{- if .Values.database.existingSecret -}}
{name: {{ .Values.database.existingSecret }}, key: {{ .Values.database.urlKey }}}
{{- else -}}
{name: {{ include "cowin-kit.secretName" . }}, key: DATABASE_URL}
{{- end -}}
{{- end -}}

{{/* COWIN_KIT_DATABASE_URL: composed in the pod from database.host/port/name/user and the
password of database.existingSecret (Kubernetes expands $(VAR) of variables defined
before it), or read whole from a Secret. */}}
{{- define "cowin-kit.databaseEnv" -}}
{{- with .Values.database -}}
{{- if .host -}}
- name: DATABASE_USER
  value: {{ required "database.user is required with database.host" .user | quote }}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ required "database.existingSecret (holding the password) is required with database.host" .existingSecret }}, key: {{ .passwordKey }}}
- name: COWIN_KIT_DATABASE_URL
  value: {{ printf "postgresql+psycopg://$(DATABASE_USER):$(DATABASE_PASSWORD)@%s:%d/%s%s" .host (int .port) (required "database.name is required with database.host" .name) (ternary (printf "?%s" .parameters) "" (ne (.parameters | default "") "")) | quote }}
{{- else -}}
- name: COWIN_KIT_DATABASE_URL
  valueFrom:
    secretKeyRef: {{ include "cowin-kit.databaseUrlRef" $ }}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The environment every cowin-kit container gets: settings (ConfigMap), secrets, keys. */}}
{{- define "cowin-kit.env" -}}
{{ include "cowin-kit.databaseEnv" . }}
- name: COWIN_KIT_SECRET_KEY
  valueFrom:
    secretKeyRef: {name: {{ include "cowin-kit.secretName" . }}, key: SECRET_KEY}
- name: COWIN_KIT_ENCRYPTION_KEYS
  valueFrom:
    secretKeyRef: {name: {{ include "cowin-kit.secretName" . }}, key: ENCRYPTION_KEYS}
- name: COWIN_KIT_ID_HASH_KEY
  valueFrom:
    secretKeyRef: {name: {{ include "cowin-kit.secretName" . }}, key: ID_HASH_KEY}
- name: COWIN_KIT_REDIS_URL
  valueFrom:
    {{- if .Values.redis.existingSecret }}
    secretKeyRef: {name: {{ .Values.redis.existingSecret }}, key: {{ .Values.redis.urlKey }}}
    {{- else }}
    secretKeyRef: {name: {{ include "cowin-kit.secretName" . }}, key: REDIS_URL, optional: true}
    {{- end }}
- name: COWIN_KIT_DATABASE_REPLICA_URL
  valueFrom:
    secretKeyRef: {name: {{ include "cowin-kit.secretName" . }}, key: DATABASE_REPLICA_URL, optional: true}
- name: COWIN_KIT_CERT_KEYS_DIR
  value: {{ .Values.signingKeys.mountPath | quote }}
- name: COWIN_KIT_INSTANCE_PATH
  value: /tmp/instance
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "cowin-kit.envFrom" -}}
- configMapRef:
    name: {{ include "cowin-kit.settingsName" . }}
{{- end -}}

{{/* Volumes shared by the pods: an in-memory /tmp and the signing keys. */}}
{{- define "cowin-kit.volumes" -}}
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- if .Values.signingKeys.generations }}
- name: signing-keys
  projected:
    defaultMode: 0440
    sources:
    {{- range $generation := .Values.signingKeys.generations }}
      - secret:
          name: {{ $generation.secretName }}
          items:
            {{- range $file := list "dcc_key.pem" "dcc_cert.pem" "csca_cert.pem" "shc_key.pem" "vc_key.pem" }}
            - {key: {{ $file }}, path: {{ printf "%s/%s" $generation.id $file | quote }}}
            {{- end }}
    {{- end }}
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "cowin-kit.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.signingKeys.generations }}
- name: signing-keys
  mountPath: {{ .Values.signingKeys.mountPath }}
  readOnly: true
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "cowin-kit.jobPod" -}}
restartPolicy: Never
automountServiceAccountToken: false
{{- with .Values.jobs.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.jobs.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}
