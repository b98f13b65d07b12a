package dataapi

import (
	"net/http"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/sfhttp"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

// origin is the changeOrigin of changes made through this API.
func origin(version string, r *http.Request) string {
	client := r.Header.Get("Sforce-Call-Options")
	if client == "" {
		client = "client=SfdcInternalAPI/"
	}
	return "com/salesforce/api/rest/" + version + ";" + client
}

// objectRoot is /sobjects/{Object}: GET the basic information, POST a create.
func (a *API) objectRoot(w http.ResponseWriter, r *http.Request, version string, obj *org.Object) {
	if !allow(w, r, http.MethodGet, http.MethodPost) {
		return
	}
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusOK, map[string]any{"objectDescribe": globalEntry(obj, version), "recentItems": []any{}})
		return
	}
	var fields map[string]any
	if !readBody(w, r, &fields) {
		return
	}
	res, tx := a.org.Apply(origin(version, r), false, org.Op{Kind: org.OpCreate, Object: obj.Name, Fields: fields})
	if tx != nil {
		a.hooks.Committed()
	}
	if !res[0].Success {
		writeOpError(w, http.StatusBadRequest, res[0].Errors[0])
		return
	}
	w.Header().Set("Location", recordURL(version, obj.Name, res[0].ID))
	sfhttp.WriteRaw(w, http.StatusCreated, []byte(`{"id":"`+res[0].ID+`","success":true,"errors":[]}`))
}

// record is /sobjects/{Object}/{id}: GET (optionally ?fields=), PATCH, DELETE.
func (a *API) record(w http.ResponseWriter, r *http.Request, version string, obj *org.Object, id string) {
	if !allow(w, r, http.MethodGet, http.MethodPatch, http.MethodDelete) {
		return
	}
	rec, ok := a.org.Get(id)
	if !ok || rec.Object != obj {
		notFound(w)
		return
	}
	switch r.Method {
	case http.MethodPatch, http.MethodDelete:
		op := org.Op{Kind: org.OpDelete, ID: rec.ID()}
		if r.Method == http.MethodPatch {
			op.Kind = org.OpUpdate
			if !readBody(w, r, &op.Fields) {
				return
			}
		}
		res, tx := a.org.Apply(origin(version, r), false, op)
		if tx != nil {
			a.hooks.Committed()
		}
		if !res[0].Success {
			status := http.StatusBadRequest
			if e := res[0].Errors[0]; e.StatusCode == "ENTITY_IS_DELETED" || e.StatusCode == "NOT_FOUND" {
				status = http.StatusNotFound
			}
			writeOpError(w, status, res[0].Errors[0])
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if rec.Deleted() {
		writeOpError(w, http.StatusNotFound, &org.Error{StatusCode: "ENTITY_IS_DELETED", Message: "entity is deleted"})
		return
	}
	var cols []int
	if list := r.URL.Query().Get("fields"); list != "" {
		var bad string
		if cols, bad, ok = fieldColumns(obj, list); !ok {
			writeError(w, http.StatusBadRequest, "INVALID_FIELD", "No such column '"+bad+"' on sobject of type "+obj.Name)
			return
		}
	}
	sfhttp.WriteRaw(w, http.StatusOK, appendRecord(nil, version, obj, rec.Values, cols))
}

// globalDescribe is GET /sobjects.
func (a *API) globalDescribe(w http.ResponseWriter, r *http.Request, version string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	var list []any
	for _, obj := range a.org.Objects() {
		list = append(list, globalEntry(obj, version))
	}
	writeJSON(w, http.StatusOK, map[string]any{"encoding": "UTF-8", "maxBatchSize": maxCollection, "sobjects": list})
}

func urls(obj *org.Object, version string) map[string]string {
	base := "/services/data/v" + version + "/sobjects/" + obj.Name
	return map[string]string{"sobject": base, "describe": base + "/describe", "rowTemplate": base + "/{ID}"}
}

// globalEntry is an object's entry of the global describe; map keys marshal in Salesforce's alphabetical order.
func globalEntry(obj *org.Object, version string) map[string]any {
	data := obj.CDC || obj.Custom
	return map[string]any{
		"activateable": false, "associateEntityType": nil, "associateParentEntity": nil, "createable": true, "custom": obj.Custom,
		"customSetting": false, "deepCloneable": false, "deletable": true, "deprecatedAndHidden": false, "feedEnabled": data,
		"hasSubtypes": false, "isInterface": false, "isSubtype": false, "keyPrefix": obj.KeyPrefix, "label": obj.Label,
		"labelPlural": obj.LabelPlural, "layoutable": data, "mergeable": false, "mruEnabled": data, "name": obj.Name,
		"queryable": true, "replicateable": true, "retrieveable": true, "searchable": data, "triggerable": data,
		"undeletable": true, "updateable": true, "urls": urls(obj, version),
	}
}

// describe is GET /sobjects/{Object}/describe: the global entry's flags plus the fields and the rest of
// Salesforce's top-level keys.
func describe(obj *org.Object, version string) map[string]any {
	d := globalEntry(obj, version)
	delete(d, "associateEntityType")
	delete(d, "associateParentEntity")
	fields := make([]any, 0, len(obj.Fields))
	for _, f := range obj.Fields {
		fields = append(fields, describeField(f))
	}
	for k, v := range map[string]any{
		"actionOverrides": []any{}, "childRelationships": []any{}, "compactLayoutable": obj.CDC, "defaultImplementation": nil,
		"extendedBy": nil, "extendsInterfaces": nil, "fields": fields, "implementedBy": nil, "implementsInterfaces": nil,
		"listviewable": nil, "lookupLayoutable": nil, "namedLayoutInfos": []any{}, "networkScopeFieldName": nil,
		"recordTypeInfos": []any{}, "searchLayoutable": obj.CDC, "supportedScopes": []any{},
	} {
		d[k] = v
	}
	return d
}

// soapTypes maps a field type to its describe soapType.
var soapTypes = map[org.FieldType]string{
	org.TypeID: "tns:ID", org.TypeReference: "tns:ID", org.TypeBoolean: "xsd:boolean", org.TypeInt: "xsd:int",
	org.TypeCurrency: "xsd:double", org.TypeDouble: "xsd:double", org.TypePercent: "xsd:double",
	org.TypeDate: "xsd:date", org.TypeDateTime: "xsd:dateTime",
}

func describeField(f *org.Field) map[string]any {
	soap := soapTypes[f.Type]
	if soap == "" {
		soap = "xsd:string"
	}
	byteLength, digits, precision, scale := 0, 0, 0, 0
	if f.Length > 0 {
		byteLength = 3 * f.Length
		if f.Type == org.TypeID || f.Type == org.TypeReference {
			byteLength = f.Length
		}
	}
	switch f.Type {
	case org.TypeInt:
		digits = 8
	case org.TypeCurrency, org.TypeDouble:
		precision, scale = 18, 2
	case org.TypePercent:
		precision, scale = 3, 0
	}
	picklist := []any{}
	for i, v := range f.Picklist {
		picklist = append(picklist, map[string]any{"active": true, "defaultValue": i == 0 && f.Default == v, "label": v, "validFor": nil, "value": v})
	}
	referTo := []string{}
	var relationship any
	if f.ReferTo != "" {
		referTo = []string{f.ReferTo}
		if name := f.Name; len(name) > 2 && name[len(name)-2:] == "Id" {
			relationship = name[:len(name)-2]
		}
	}
	var def any
	if f.Type == org.TypeBoolean && f.Default != "" {
		def = f.Default == "true"
	}
	system := !f.Createable && !f.Updateable && !f.AutoNumber
	return map[string]any{
		"aggregatable": f.Type != org.TypeTextArea, "aiPredictionField": false, "autoNumber": f.AutoNumber,
		"byteLength": byteLength, "calculated": false, "calculatedFormula": nil, "cascadeDelete": false,
		"caseSensitive": false, "compoundFieldName": nil, "controllerName": nil, "createable": f.Createable,
		"custom": f.Custom, "defaultValue": def, "defaultValueFormula": nil,
		"defaultedOnCreate": system || f.Default != "" || f.Name == "OwnerId", "dependentPicklist": false,
		"deprecatedAndHidden": false, "digits": digits, "displayLocationInDecimal": false, "encrypted": false,
		"externalId": false, "extraTypeInfo": nil, "filterable": f.Type != org.TypeTextArea, "filteredLookupInfo": nil,
		"formulaTreatNullNumberAsZero": false, "groupable": !f.Type.Numeric() && f.Type != org.TypeTextArea,
		"highScaleNumber": false, "htmlFormatted": false, "idLookup": f.Type == org.TypeID || f.Unique,
		"inlineHelpText": nil, "label": f.Label, "length": f.Length, "mask": nil, "maskType": nil, "name": f.Name,
		"nameField": f.NameField, "namePointing": false, "nillable": !f.Required && !system && f.Type != org.TypeBoolean,
		"permissionable": f.Createable && !f.Required, "picklistValues": picklist, "polymorphicForeignKey": false,
		"precision": precision, "queryByDistance": false, "referenceTargetField": nil, "referenceTo": referTo,
		"relationshipName": relationship, "relationshipOrder": nil, "restrictedDelete": false, "restrictedPicklist": false,
		"scale": scale, "searchPrefilterable": false, "soapType": soap, "sortable": f.Type != org.TypeTextArea,
		"type": string(f.Type), "unique": f.Unique, "updateable": f.Updateable, "writeRequiresMasterRead": false,
	}
}
