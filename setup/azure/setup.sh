#!/usr/bin/env bash
# The Azure side of the Claude guides, with the az CLI (signed in: `az login`; subscription chosen:
# `az account set --subscription ...`). Safe to run again: every object is looked up before it is made.
#
#   1. the audience app registration that stands for the Claude API: api://<APP_ID>, v2 access tokens,
#      and its service principal (without it Entra answers AADSTS500011 / AADSTS50001);
#   2. a user-assigned managed identity;
#   3. optional: that identity on a VM (--vm), for notebook 02;
#   4. optional: a federated identity credential trusting an AKS cluster's service account (--aks-cluster),
#      for notebook 03 (Entra Workload ID).
#
# Then it prints the values the notebooks and `wif-lab setup anthropic` take.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: setup/azure/setup.sh --resource-group RG --location LOCATION [options]

  --resource-group RG      resource group of the managed identity (created if missing)
  --location LOCATION      Azure region for new resources, e.g. westeurope
  --app-name NAME          audience app registration (default: claude-api-federation)
  --identity-name NAME     user-assigned managed identity (default: claude-workload)
  --vm NAME                assign the identity to this VM (notebook 02)
  --aks-cluster NAME       trust this AKS cluster's service account (notebook 03); the cluster must run
                           with --enable-oidc-issuer --enable-workload-identity
  --namespace NS           the pod's namespace (default: inference)
  --service-account NAME   the pod's Kubernetes service account (default: claude-inference)
  -h, --help               this text
EOF
}

die() {
  echo "error: $1" >&2
  echo "→ Check next: $2" >&2
  exit 2
}

RESOURCE_GROUP=""
LOCATION=""
APP_NAME="claude-api-federation"
IDENTITY_NAME="claude-workload"
VM_NAME=""
AKS_CLUSTER=""
NAMESPACE="inference"
SERVICE_ACCOUNT="claude-inference"

while [ $# -gt 0 ]; do
  case "$1" in
    --resource-group) RESOURCE_GROUP="${2:-}"; shift 2 ;;
    --location) LOCATION="${2:-}"; shift 2 ;;
    --app-name) APP_NAME="${2:-}"; shift 2 ;;
    --identity-name) IDENTITY_NAME="${2:-}"; shift 2 ;;
    --vm) VM_NAME="${2:-}"; shift 2 ;;
    --aks-cluster) AKS_CLUSTER="${2:-}"; shift 2 ;;
    --namespace) NAMESPACE="${2:-}"; shift 2 ;;
    --service-account) SERVICE_ACCOUNT="${2:-}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" "the options listed above" ;;
  esac
done

[ -n "$RESOURCE_GROUP" ] || die "--resource-group is required" "pass the resource group for the managed identity"
[ -n "$LOCATION" ] || die "--location is required" "pass an Azure region, e.g. --location westeurope"
command -v az >/dev/null 2>&1 || die "the az CLI is not installed" "install the Azure CLI and run az login"

TENANT_ID="$(az account show --query tenantId --output tsv)" ||
  die "az is not signed in" "run az login (and az account set --subscription ...)"

# A cluster without an OIDC issuer cannot be trusted: find out before anything is created.
AKS_ISSUER=""
if [ -n "$AKS_CLUSTER" ]; then
  AKS_ISSUER="$(az aks show --name "$AKS_CLUSTER" --resource-group "$RESOURCE_GROUP" \
    --query oidcIssuerProfile.issuerUrl --output tsv)"
  [ -n "$AKS_ISSUER" ] || die "AKS cluster $AKS_CLUSTER has no OIDC issuer" \
    "az aks update --name $AKS_CLUSTER --resource-group $RESOURCE_GROUP --enable-oidc-issuer --enable-workload-identity"
fi

# --- 1. the audience app registration ------------------------------------------------------------
APP_ID="$(az ad app list --display-name "$APP_NAME" --query "[0].appId" --output tsv)"
if [ -z "$APP_ID" ]; then
  echo "creating app registration $APP_NAME" >&2
  APP_ID="$(az ad app create --display-name "$APP_NAME" --sign-in-audience AzureADMyOrg --query appId --output tsv)"
else
  echo "app registration $APP_NAME exists ($APP_ID)" >&2
fi
# api://<APP_ID> works in every tenant (https:// identifier URIs need a verified domain); v2 tokens
# carry iss https://login.microsoftonline.com/<tenant>/v2.0, aud <APP_ID> and azp.
az ad app update --id "$APP_ID" --identifier-uris "api://$APP_ID" --set api.requestedAccessTokenVersion=2
if ! az ad sp show --id "$APP_ID" --query id --output tsv >/dev/null 2>&1; then
  echo "creating its service principal" >&2
  az ad sp create --id "$APP_ID" --query id --output tsv >/dev/null
fi

# --- 2. the user-assigned managed identity ---------------------------------------------------------
if [ "$(az group exists --name "$RESOURCE_GROUP")" != "true" ]; then
  echo "creating resource group $RESOURCE_GROUP" >&2
  az group create --name "$RESOURCE_GROUP" --location "$LOCATION" --output none
fi
if ! az identity show --name "$IDENTITY_NAME" --resource-group "$RESOURCE_GROUP" --query id --output tsv \
  >/dev/null 2>&1; then
  echo "creating managed identity $IDENTITY_NAME" >&2
  az identity create --name "$IDENTITY_NAME" --resource-group "$RESOURCE_GROUP" --location "$LOCATION" --output none
fi
IDENTITY_ID="$(az identity show --name "$IDENTITY_NAME" --resource-group "$RESOURCE_GROUP" --query id --output tsv)"
CLIENT_ID="$(az identity show --name "$IDENTITY_NAME" --resource-group "$RESOURCE_GROUP" --query clientId \
  --output tsv)"
PRINCIPAL_ID="$(az identity show --name "$IDENTITY_NAME" --resource-group "$RESOURCE_GROUP" --query principalId \
  --output tsv)"

# --- 3. the VM (notebook 02) -----------------------------------------------------------------------
if [ -n "$VM_NAME" ]; then
  echo "assigning $IDENTITY_NAME to VM $VM_NAME" >&2
  az vm identity assign --name "$VM_NAME" --resource-group "$RESOURCE_GROUP" --identities "$IDENTITY_ID" \
    --output none
fi

# --- 4. the AKS federated identity credential (notebook 03) ----------------------------------------
if [ -n "$AKS_CLUSTER" ]; then
  CREDENTIAL="aks-$NAMESPACE-$SERVICE_ACCOUNT"
  SUBJECT="system:serviceaccount:$NAMESPACE:$SERVICE_ACCOUNT"
  verb="create"
  if az identity federated-credential show --name "$CREDENTIAL" --identity-name "$IDENTITY_NAME" \
    --resource-group "$RESOURCE_GROUP" --query name --output tsv >/dev/null 2>&1; then
    verb="update"
  fi
  echo "federated credential $CREDENTIAL: $verb" >&2
  # api://AzureADTokenExchange is Entra's audience for incoming Kubernetes tokens (not the Claude one).
  az identity federated-credential "$verb" --name "$CREDENTIAL" --identity-name "$IDENTITY_NAME" \
    --resource-group "$RESOURCE_GROUP" --issuer "$AKS_ISSUER" --subject "$SUBJECT" \
    --audiences api://AzureADTokenExchange --output none
fi

# --- the values the rest of the kit takes -----------------------------------------------------------
cat <<EOF

Azure is set up. Values to carry on:

  tenant_id            $TENANT_ID
  audience app (aud)   $APP_ID
  resource (nb 02)     api://$APP_ID
  scope (nb 03)        api://$APP_ID/.default
  identity_client_id   $CLIENT_ID        (azure.workload.identity/client-id, AZURE_CLIENT_ID)
  identity oid         $PRINCIPAL_ID        (the rule's claims.oid)
EOF
if [ -n "$AKS_ISSUER" ]; then
  echo "  AKS issuer           $AKS_ISSUER        (for the Kubernetes direct path)"
fi
cat <<EOF

For setup/anthropic.example.toml (wif-lab setup anthropic):
  [anthropic.issuer]      issuer_url = "https://login.microsoftonline.com/$TENANT_ID/v2.0"
                          max_jwt_lifetime_seconds = 86400
  [anthropic.rule.match]  audience = "$APP_ID"
                          claims = { oid = "$PRINCIPAL_ID", tid = "$TENANT_ID" }

Notebook 02 on the VM:
  python3 scripts/run_notebooks.py 02_azure_managed_identity -p mode live -p tenant_id $TENANT_ID \\
      -p resource api://$APP_ID -p identity_client_id $CLIENT_ID -p organization_id ... \\
      -p federation_rule_id ... -p service_account_id ...
Notebook 03 in the cluster: setup/kubernetes/ (AZURE_CLIENT_ID=$CLIENT_ID, AUDIENCE_APP_ID=$APP_ID)
EOF
